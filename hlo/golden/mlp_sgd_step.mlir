module @xlatrain {
  func.func public @main(%fc0.w: tensor<16x32xf32> {tf.aliasing_output = 0 : i32}, %fc0.b: tensor<32xf32> {tf.aliasing_output = 1 : i32}, %fc1.w: tensor<32x4xf32> {tf.aliasing_output = 2 : i32}, %fc1.b: tensor<4xf32> {tf.aliasing_output = 3 : i32}, %x: tensor<8x16xf32>, %y: tensor<8xi32>) -> (tensor<16x32xf32>, tensor<32xf32>, tensor<32x4xf32>, tensor<4xf32>, tensor<f32>) {
    %0 = stablehlo.dot_general %x, %fc0.w, contracting_dims = [1] x [0] : (tensor<8x16xf32>, tensor<16x32xf32>) -> tensor<8x32xf32>
    %1 = stablehlo.broadcast_in_dim %fc0.b, dims = [1] : (tensor<32xf32>) -> tensor<8x32xf32>
    %2 = stablehlo.add %0, %1 : tensor<8x32xf32>
    %3 = stablehlo.constant dense<0.0e+00> : tensor<8x32xf32>
    %4 = stablehlo.compare GT, %2, %3, FLOAT : (tensor<8x32xf32>, tensor<8x32xf32>) -> tensor<8x32xi1>
    %5 = stablehlo.constant dense<0.0e+00> : tensor<8x32xf32>
    %6 = stablehlo.select %4, %2, %5 : (tensor<8x32xi1>, tensor<8x32xf32>, tensor<8x32xf32>) -> tensor<8x32xf32>
    %7 = stablehlo.dot_general %6, %fc1.w, contracting_dims = [1] x [0] : (tensor<8x32xf32>, tensor<32x4xf32>) -> tensor<8x4xf32>
    %8 = stablehlo.broadcast_in_dim %fc1.b, dims = [1] : (tensor<4xf32>) -> tensor<8x4xf32>
    %logits = stablehlo.add %7, %8 : tensor<8x4xf32>
    %9 = stablehlo.constant dense<0xFF800000> : tensor<f32>
    %10 = stablehlo.reduce(%logits init: %9) applies stablehlo.maximum across dimensions = [1] : (tensor<8x4xf32>, tensor<f32>) -> tensor<8xf32>
    %11 = stablehlo.reshape %10 : (tensor<8xf32>) -> tensor<8x1xf32>
    %12 = stablehlo.broadcast_in_dim %11, dims = [0, 1] : (tensor<8x1xf32>) -> tensor<8x4xf32>
    %13 = stablehlo.subtract %logits, %12 : tensor<8x4xf32>
    %14 = stablehlo.exponential %13 : tensor<8x4xf32>
    %15 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %16 = stablehlo.reduce(%14 init: %15) applies stablehlo.add across dimensions = [1] : (tensor<8x4xf32>, tensor<f32>) -> tensor<8xf32>
    %17 = stablehlo.reshape %16 : (tensor<8xf32>) -> tensor<8x1xf32>
    %18 = stablehlo.log %17 : tensor<8x1xf32>
    %19 = stablehlo.broadcast_in_dim %18, dims = [0, 1] : (tensor<8x1xf32>) -> tensor<8x4xf32>
    %20 = stablehlo.subtract %13, %19 : tensor<8x4xf32>
    %21 = stablehlo.iota dim = 1 : tensor<8x4xi32>
    %22 = stablehlo.reshape %y : (tensor<8xi32>) -> tensor<8x1xi32>
    %23 = stablehlo.broadcast_in_dim %22, dims = [0, 1] : (tensor<8x1xi32>) -> tensor<8x4xi32>
    %24 = stablehlo.compare EQ, %21, %23, SIGNED : (tensor<8x4xi32>, tensor<8x4xi32>) -> tensor<8x4xi1>
    %25 = stablehlo.convert %24 : (tensor<8x4xi1>) -> tensor<8x4xf32>
    %26 = stablehlo.multiply %20, %25 : tensor<8x4xf32>
    %27 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %28 = stablehlo.reduce(%26 init: %27) applies stablehlo.add across dimensions = [0, 1] : (tensor<8x4xf32>, tensor<f32>) -> tensor<f32>
    %29 = stablehlo.constant dense<-1.25e-01> : tensor<f32>
    %loss = stablehlo.multiply %28, %29 : tensor<f32>
    %30 = stablehlo.constant dense<1.0e+00> : tensor<f32>
    %31 = stablehlo.multiply %30, %29 : tensor<f32>
    %32 = stablehlo.broadcast_in_dim %31, dims = [] : (tensor<f32>) -> tensor<8x4xf32>
    %33 = stablehlo.multiply %32, %25 : tensor<8x4xf32>
    %34 = stablehlo.negate %33 : tensor<8x4xf32>
    %35 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %36 = stablehlo.reduce(%34 init: %35) applies stablehlo.add across dimensions = [1] : (tensor<8x4xf32>, tensor<f32>) -> tensor<8xf32>
    %37 = stablehlo.reshape %36 : (tensor<8xf32>) -> tensor<8x1xf32>
    %38 = stablehlo.divide %37, %17 : tensor<8x1xf32>
    %39 = stablehlo.reshape %38 : (tensor<8x1xf32>) -> tensor<8xf32>
    %40 = stablehlo.broadcast_in_dim %39, dims = [0] : (tensor<8xf32>) -> tensor<8x4xf32>
    %41 = stablehlo.multiply %40, %14 : tensor<8x4xf32>
    %42 = stablehlo.add %33, %41 : tensor<8x4xf32>
    %43 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.fc1.b = stablehlo.reduce(%42 init: %43) applies stablehlo.add across dimensions = [0] : (tensor<8x4xf32>, tensor<f32>) -> tensor<4xf32>
    %44 = stablehlo.dot_general %42, %fc1.w, contracting_dims = [1] x [1] : (tensor<8x4xf32>, tensor<32x4xf32>) -> tensor<8x32xf32>
    %45 = stablehlo.dot_general %42, %6, contracting_dims = [0] x [0] : (tensor<8x4xf32>, tensor<8x32xf32>) -> tensor<4x32xf32>
    %grad.fc1.w = stablehlo.transpose %45, dims = [1, 0] : (tensor<4x32xf32>) -> tensor<32x4xf32>
    %46 = stablehlo.constant dense<0.0e+00> : tensor<8x32xf32>
    %47 = stablehlo.select %4, %44, %46 : (tensor<8x32xi1>, tensor<8x32xf32>, tensor<8x32xf32>) -> tensor<8x32xf32>
    %48 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.fc0.b = stablehlo.reduce(%47 init: %48) applies stablehlo.add across dimensions = [0] : (tensor<8x32xf32>, tensor<f32>) -> tensor<32xf32>
    %49 = stablehlo.dot_general %47, %x, contracting_dims = [0] x [0] : (tensor<8x32xf32>, tensor<8x16xf32>) -> tensor<32x16xf32>
    %grad.fc0.w = stablehlo.transpose %49, dims = [1, 0] : (tensor<32x16xf32>) -> tensor<16x32xf32>
    %50 = stablehlo.constant dense<1.0e-01> : tensor<16x32xf32>
    %51 = stablehlo.multiply %grad.fc0.w, %50 : tensor<16x32xf32>
    %fc0.w.next = stablehlo.subtract %fc0.w, %51 : tensor<16x32xf32>
    %52 = stablehlo.constant dense<1.0e-01> : tensor<32xf32>
    %53 = stablehlo.multiply %grad.fc0.b, %52 : tensor<32xf32>
    %fc0.b.next = stablehlo.subtract %fc0.b, %53 : tensor<32xf32>
    %54 = stablehlo.constant dense<1.0e-01> : tensor<32x4xf32>
    %55 = stablehlo.multiply %grad.fc1.w, %54 : tensor<32x4xf32>
    %fc1.w.next = stablehlo.subtract %fc1.w, %55 : tensor<32x4xf32>
    %56 = stablehlo.constant dense<1.0e-01> : tensor<4xf32>
    %57 = stablehlo.multiply %grad.fc1.b, %56 : tensor<4xf32>
    %fc1.b.next = stablehlo.subtract %fc1.b, %57 : tensor<4xf32>
    return %fc0.w.next, %fc0.b.next, %fc1.w.next, %fc1.b.next, %loss : tensor<16x32xf32>, tensor<32xf32>, tensor<32x4xf32>, tensor<4xf32>, tensor<f32>
  }
}
