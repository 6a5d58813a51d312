module @xlatrain {
  func.func public @main(%fc0.w: tensor<16x32xf32> {tf.aliasing_output = 0 : i32}, %fc0.b: tensor<32xf32> {tf.aliasing_output = 1 : i32}, %fc1.w: tensor<32x4xf32> {tf.aliasing_output = 2 : i32}, %fc1.b: tensor<4xf32> {tf.aliasing_output = 3 : i32}, %x: tensor<8x16xf32>, %y: tensor<8xi32>) -> (tensor<16x32xf32>, tensor<32xf32>, tensor<32x4xf32>, tensor<4xf32>, tensor<f32>) {
    %0 = stablehlo.dot_general %x, %fc0.w, contracting_dims = [1] x [0] : (tensor<8x16xf32>, tensor<16x32xf32>) -> tensor<8x32xf32>
    %1 = stablehlo.broadcast_in_dim %fc0.b, dims = [1] : (tensor<32xf32>) -> tensor<8x32xf32>
    %2 = stablehlo.add %0, %1 : tensor<8x32xf32>
    %3 = stablehlo.constant dense<0.0e+00> : tensor<8x32xf32>
    %4 = stablehlo.maximum %2, %3 : tensor<8x32xf32>
    %5 = stablehlo.dot_general %4, %fc1.w, contracting_dims = [1] x [0] : (tensor<8x32xf32>, tensor<32x4xf32>) -> tensor<8x4xf32>
    %6 = stablehlo.broadcast_in_dim %fc1.b, dims = [1] : (tensor<4xf32>) -> tensor<8x4xf32>
    %logits = stablehlo.add %5, %6 : tensor<8x4xf32>
    %7 = stablehlo.constant dense<0xFF800000> : tensor<f32>
    %8 = stablehlo.reduce(%logits init: %7) applies stablehlo.maximum across dimensions = [1] : (tensor<8x4xf32>, tensor<f32>) -> tensor<8xf32>
    %9 = stablehlo.reshape %8 : (tensor<8xf32>) -> tensor<8x1xf32>
    %10 = stablehlo.broadcast_in_dim %9, dims = [0, 1] : (tensor<8x1xf32>) -> tensor<8x4xf32>
    %11 = stablehlo.subtract %logits, %10 : tensor<8x4xf32>
    %12 = stablehlo.exponential %11 : tensor<8x4xf32>
    %13 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %14 = stablehlo.reduce(%12 init: %13) applies stablehlo.add across dimensions = [1] : (tensor<8x4xf32>, tensor<f32>) -> tensor<8xf32>
    %15 = stablehlo.reshape %14 : (tensor<8xf32>) -> tensor<8x1xf32>
    %16 = stablehlo.log %15 : tensor<8x1xf32>
    %17 = stablehlo.broadcast_in_dim %16, dims = [0, 1] : (tensor<8x1xf32>) -> tensor<8x4xf32>
    %18 = stablehlo.subtract %11, %17 : tensor<8x4xf32>
    %19 = stablehlo.iota dim = 1 : tensor<8x4xi32>
    %20 = stablehlo.reshape %y : (tensor<8xi32>) -> tensor<8x1xi32>
    %21 = stablehlo.broadcast_in_dim %20, dims = [0, 1] : (tensor<8x1xi32>) -> tensor<8x4xi32>
    %22 = stablehlo.compare EQ, %19, %21, SIGNED : (tensor<8x4xi32>, tensor<8x4xi32>) -> tensor<8x4xi1>
    %23 = stablehlo.convert %22 : (tensor<8x4xi1>) -> tensor<8x4xf32>
    %24 = stablehlo.multiply %18, %23 : tensor<8x4xf32>
    %25 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %26 = stablehlo.reduce(%24 init: %25) applies stablehlo.add across dimensions = [0, 1] : (tensor<8x4xf32>, tensor<f32>) -> tensor<f32>
    %27 = stablehlo.constant dense<-1.25e-01> : tensor<f32>
    %loss = stablehlo.multiply %26, %27 : tensor<f32>
    %28 = stablehlo.constant dense<1.0e+00> : tensor<f32>
    %29 = stablehlo.multiply %28, %27 : tensor<f32>
    %30 = stablehlo.broadcast_in_dim %29, dims = [] : (tensor<f32>) -> tensor<8x4xf32>
    %31 = stablehlo.multiply %30, %23 : tensor<8x4xf32>
    %32 = stablehlo.negate %31 : tensor<8x4xf32>
    %33 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %34 = stablehlo.reduce(%32 init: %33) applies stablehlo.add across dimensions = [1] : (tensor<8x4xf32>, tensor<f32>) -> tensor<8xf32>
    %35 = stablehlo.reshape %34 : (tensor<8xf32>) -> tensor<8x1xf32>
    %36 = stablehlo.divide %35, %15 : tensor<8x1xf32>
    %37 = stablehlo.reshape %36 : (tensor<8x1xf32>) -> tensor<8xf32>
    %38 = stablehlo.broadcast_in_dim %37, dims = [0] : (tensor<8xf32>) -> tensor<8x4xf32>
    %39 = stablehlo.multiply %38, %12 : tensor<8x4xf32>
    %40 = stablehlo.add %31, %39 : tensor<8x4xf32>
    %41 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.fc1.b = stablehlo.reduce(%40 init: %41) applies stablehlo.add across dimensions = [0] : (tensor<8x4xf32>, tensor<f32>) -> tensor<4xf32>
    %42 = stablehlo.dot_general %40, %fc1.w, contracting_dims = [1] x [1] : (tensor<8x4xf32>, tensor<32x4xf32>) -> tensor<8x32xf32>
    %43 = stablehlo.dot_general %40, %4, contracting_dims = [0] x [0] : (tensor<8x4xf32>, tensor<8x32xf32>) -> tensor<4x32xf32>
    %grad.fc1.w = stablehlo.transpose %43, dims = [1, 0] : (tensor<4x32xf32>) -> tensor<32x4xf32>
    %44 = stablehlo.compare GT, %2, %3, FLOAT : (tensor<8x32xf32>, tensor<8x32xf32>) -> tensor<8x32xi1>
    %45 = stablehlo.compare EQ, %2, %3, FLOAT : (tensor<8x32xf32>, tensor<8x32xf32>) -> tensor<8x32xi1>
    %46 = stablehlo.convert %44 : (tensor<8x32xi1>) -> tensor<8x32xf32>
    %47 = stablehlo.convert %45 : (tensor<8x32xi1>) -> tensor<8x32xf32>
    %48 = stablehlo.constant dense<5.0e-01> : tensor<8x32xf32>
    %49 = stablehlo.multiply %47, %48 : tensor<8x32xf32>
    %50 = stablehlo.add %46, %49 : tensor<8x32xf32>
    %51 = stablehlo.multiply %42, %50 : tensor<8x32xf32>
    %52 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.fc0.b = stablehlo.reduce(%51 init: %52) applies stablehlo.add across dimensions = [0] : (tensor<8x32xf32>, tensor<f32>) -> tensor<32xf32>
    %53 = stablehlo.dot_general %51, %x, contracting_dims = [0] x [0] : (tensor<8x32xf32>, tensor<8x16xf32>) -> tensor<32x16xf32>
    %grad.fc0.w = stablehlo.transpose %53, dims = [1, 0] : (tensor<32x16xf32>) -> tensor<16x32xf32>
    %54 = stablehlo.constant dense<1.0e-01> : tensor<16x32xf32>
    %55 = stablehlo.multiply %grad.fc0.w, %54 : tensor<16x32xf32>
    %fc0.w.next = stablehlo.subtract %fc0.w, %55 : tensor<16x32xf32>
    %56 = stablehlo.constant dense<1.0e-01> : tensor<32xf32>
    %57 = stablehlo.multiply %grad.fc0.b, %56 : tensor<32xf32>
    %fc0.b.next = stablehlo.subtract %fc0.b, %57 : tensor<32xf32>
    %58 = stablehlo.constant dense<1.0e-01> : tensor<32x4xf32>
    %59 = stablehlo.multiply %grad.fc1.w, %58 : tensor<32x4xf32>
    %fc1.w.next = stablehlo.subtract %fc1.w, %59 : tensor<32x4xf32>
    %60 = stablehlo.constant dense<1.0e-01> : tensor<4xf32>
    %61 = stablehlo.multiply %grad.fc1.b, %60 : tensor<4xf32>
    %fc1.b.next = stablehlo.subtract %fc1.b, %61 : tensor<4xf32>
    return %fc0.w.next, %fc0.b.next, %fc1.w.next, %fc1.b.next, %loss : tensor<16x32xf32>, tensor<32xf32>, tensor<32x4xf32>, tensor<4xf32>, tensor<f32>
  }
}
