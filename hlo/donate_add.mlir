// An accumulator update that donates its first argument: the output reuses %acc's memory.
module @donate_add {
  func.func @main(%acc: tensor<4xf32> {tf.aliasing_output = 0 : i32}, %delta: tensor<4xf32>) -> tensor<4xf32> {
    %next = stablehlo.add %acc, %delta : tensor<4xf32>
    return %next : tensor<4xf32>
  }
}
