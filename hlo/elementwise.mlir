// Elementwise arithmetic: (a + b) * a - 0.5, then max with b.
module @elementwise {
  func.func @main(%a: tensor<2x3xf32>, %b: tensor<2x3xf32>) -> tensor<2x3xf32> {
    %half = stablehlo.constant dense<0.5> : tensor<2x3xf32>
    %sum = stablehlo.add %a, %b : tensor<2x3xf32>
    %product = stablehlo.multiply %sum, %a : tensor<2x3xf32>
    %shifted = stablehlo.subtract %product, %half : tensor<2x3xf32>
    %result = stablehlo.maximum %shifted, %b : tensor<2x3xf32>
    return %result : tensor<2x3xf32>
  }
}
