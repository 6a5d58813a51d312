module @xlatrain {
  func.func public @main(%fc0.w: tensor<16x32xf32> {tf.aliasing_output = 0 : i32}, %fc0.b: tensor<32xf32> {tf.aliasing_output = 1 : i32}, %fc1.w: tensor<32x4xf32> {tf.aliasing_output = 2 : i32}, %fc1.b: tensor<4xf32> {tf.aliasing_output = 3 : i32}, %x: tensor<8x16xf32>, %y: tensor<8xi32>) -> (tensor<16x32xf32>, tensor<32xf32>, tensor<32x4xf32>, tensor<4xf32>, tensor<f32>) {
    %0 = stablehlo.dot_general %x, %fc0.w, contracting_dims = [1] x [0] : (tensor<8x16xf32>, tensor<16x32xf32>) -> tensor<8x32xf32>
    %1 = stablehlo.broadcast_in_dim %fc0.b, dims = [1] : (tensor<32xf32>) -> tensor<8x32xf32>
    %2 = stablehlo.add %0, %1 : tensor<8x32xf32>
    %3 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %4 = stablehlo.broadcast_in_dim %3, dims = [] : (tensor<f32>) -> tensor<8x32xf32>
    %5 = stablehlo.maximum %2, %4 : tensor<8x32xf32>
    %6 = stablehlo.dot_general %5, %fc1.w, contracting_dims = [1] x [0] : (tensor<8x32xf32>, tensor<32x4xf32>) -> tensor<8x4xf32>
    %7 = stablehlo.broadcast_in_dim %fc1.b, dims = [1] : (tensor<4xf32>) -> tensor<8x4xf32>
    %logits = stablehlo.add %6, %7 : tensor<8x4xf32>
    %8 = stablehlo.constant dense<0xFF800000> : tensor<f32>
    %9 = stablehlo.reduce(%logits init: %8) applies stablehlo.maximum across dimensions = [1] : (tensor<8x4xf32>, tensor<f32>) -> tensor<8xf32>
    %10 = stablehlo.reshape %9 : (tensor<8xf32>) -> tensor<8x1xf32>
    %11 = stablehlo.broadcast_in_dim %10, dims = [0, 1] : (tensor<8x1xf32>) -> tensor<8x4xf32>
    %12 = stablehlo.subtract %logits, %11 : tensor<8x4xf32>
    %13 = stablehlo.exponential %12 : tensor<8x4xf32>
    %14 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %15 = stablehlo.reduce(%13 init: %14) applies stablehlo.add across dimensions = [1] : (tensor<8x4xf32>, tensor<f32>) -> tensor<8xf32>
    %16 = stablehlo.reshape %15 : (tensor<8xf32>) -> tensor<8x1xf32>
    %17 = stablehlo.log %16 : tensor<8x1xf32>
    %18 = stablehlo.broadcast_in_dim %17, dims = [0, 1] : (tensor<8x1xf32>) -> tensor<8x4xf32>
    %19 = stablehlo.subtract %12, %18 : tensor<8x4xf32>
    %20 = stablehlo.iota dim = 1 : tensor<8x4xi32>
    %21 = stablehlo.reshape %y : (tensor<8xi32>) -> tensor<8x1xi32>
    %22 = stablehlo.broadcast_in_dim %21, dims = [0, 1] : (tensor<8x1xi32>) -> tensor<8x4xi32>
    %23 = stablehlo.compare EQ, %20, %22, SIGNED : (tensor<8x4xi32>, tensor<8x4xi32>) -> tensor<8x4xi1>
    %24 = stablehlo.convert %23 : (tensor<8x4xi1>) -> tensor<8x4xf32>
    %25 = stablehlo.multiply %19, %24 : tensor<8x4xf32>
    %26 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %27 = stablehlo.reduce(%25 init: %26) applies stablehlo.add across dimensions = [0, 1] : (tensor<8x4xf32>, tensor<f32>) -> tensor<f32>
    %28 = stablehlo.constant dense<-1.25e-01> : tensor<f32>
    %loss = stablehlo.multiply %27, %28 : tensor<f32>
    %29 = stablehlo.constant dense<1.0e+00> : tensor<f32>
    %30 = stablehlo.multiply %29, %28 : tensor<f32>
    %31 = stablehlo.broadcast_in_dim %30, dims = [] : (tensor<f32>) -> tensor<8x4xf32>
    %32 = stablehlo.multiply %31, %24 : tensor<8x4xf32>
    %33 = stablehlo.negate %32 : tensor<8x4xf32>
    %34 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %35 = stablehlo.reduce(%33 init: %34) applies stablehlo.add across dimensions = [1] : (tensor<8x4xf32>, tensor<f32>) -> tensor<8xf32>
    %36 = stablehlo.reshape %35 : (tensor<8xf32>) -> tensor<8x1xf32>
    %37 = stablehlo.divide %36, %16 : tensor<8x1xf32>
    %38 = stablehlo.reshape %37 : (tensor<8x1xf32>) -> tensor<8xf32>
    %39 = stablehlo.broadcast_in_dim %38, dims = [0] : (tensor<8xf32>) -> tensor<8x4xf32>
    %40 = stablehlo.multiply %39, %13 : tensor<8x4xf32>
    %41 = stablehlo.add %32, %40 : tensor<8x4xf32>
    %42 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.fc1.b = stablehlo.reduce(%41 init: %42) applies stablehlo.add across dimensions = [0] : (tensor<8x4xf32>, tensor<f32>) -> tensor<4xf32>
    %43 = stablehlo.dot_general %41, %fc1.w, contracting_dims = [1] x [1] : (tensor<8x4xf32>, tensor<32x4xf32>) -> tensor<8x32xf32>
    %44 = stablehlo.dot_general %41, %5, contracting_dims = [0] x [0] : (tensor<8x4xf32>, tensor<8x32xf32>) -> tensor<4x32xf32>
    %grad.fc1.w = stablehlo.transpose %44, dims = [1, 0] : (tensor<4x32xf32>) -> tensor<32x4xf32>
    %45 = stablehlo.compare GT, %2, %4, FLOAT : (tensor<8x32xf32>, tensor<8x32xf32>) -> tensor<8x32xi1>
    %46 = stablehlo.compare EQ, %2, %4, FLOAT : (tensor<8x32xf32>, tensor<8x32xf32>) -> tensor<8x32xi1>
    %47 = stablehlo.convert %45 : (tensor<8x32xi1>) -> tensor<8x32xf32>
    %48 = stablehlo.convert %46 : (tensor<8x32xi1>) -> tensor<8x32xf32>
    %49 = stablehlo.constant dense<5.0e-01> : tensor<f32>
    %50 = stablehlo.broadcast_in_dim %49, dims = [] : (tensor<f32>) -> tensor<8x32xf32>
    %51 = stablehlo.multiply %48, %50 : tensor<8x32xf32>
    %52 = stablehlo.add %47, %51 : tensor<8x32xf32>
    %53 = stablehlo.multiply %43, %52 : tensor<8x32xf32>
    %54 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.fc0.b = stablehlo.reduce(%53 init: %54) applies stablehlo.add across dimensions = [0] : (tensor<8x32xf32>, tensor<f32>) -> tensor<32xf32>
    %55 = stablehlo.dot_general %53, %x, contracting_dims = [0] x [0] : (tensor<8x32xf32>, tensor<8x16xf32>) -> tensor<32x16xf32>
    %grad.fc0.w = stablehlo.transpose %55, dims = [1, 0] : (tensor<32x16xf32>) -> tensor<16x32xf32>
    %56 = stablehlo.constant dense<1.0e-01> : tensor<f32>
    %57 = stablehlo.broadcast_in_dim %56, dims = [] : (tensor<f32>) -> tensor<16x32xf32>
    %58 = stablehlo.multiply %grad.fc0.w, %57 : tensor<16x32xf32>
    %fc0.w.next = stablehlo.subtract %fc0.w, %58 : tensor<16x32xf32>
    %59 = stablehlo.constant dense<1.0e-01> : tensor<f32>
    %60 = stablehlo.broadcast_in_dim %59, dims = [] : (tensor<f32>) -> tensor<32xf32>
    %61 = stablehlo.multiply %grad.fc0.b, %60 : tensor<32xf32>
    %fc0.b.next = stablehlo.subtract %fc0.b, %61 : tensor<32xf32>
    %62 = stablehlo.constant dense<1.0e-01> : tensor<f32>
    %63 = stablehlo.broadcast_in_dim %62, dims = [] : (tensor<f32>) -> tensor<32x4xf32>
    %64 = stablehlo.multiply %grad.fc1.w, %63 : tensor<32x4xf32>
    %fc1.w.next = stablehlo.subtract %fc1.w, %64 : tensor<32x4xf32>
    %65 = stablehlo.constant dense<1.0e-01> : tensor<f32>
    %66 = stablehlo.broadcast_in_dim %65, dims = [] : (tensor<f32>) -> tensor<4xf32>
    %67 = stablehlo.multiply %grad.fc1.b, %66 : tensor<4xf32>
    %fc1.b.next = stablehlo.subtract %fc1.b, %67 : tensor<4xf32>
    return %fc0.w.next, %fc0.b.next, %fc1.w.next, %fc1.b.next, %loss : tensor<16x32xf32>, tensor<32xf32>, tensor<32x4xf32>, tensor<4xf32>, tensor<f32>
  }
}
