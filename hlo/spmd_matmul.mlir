// SPMD over 2 partitions: rows of %a are split between the devices, %b is replicated. Each device
// gets its 4x3 block of the product and the (replicated) sum of all 8x3 entries, which needs the
// partitioner to insert a cross-device reduction. Compile with num_partitions = 2 and SPMD on.
module @spmd_matmul attributes {mhlo.num_partitions = 2 : i32} {
  func.func @main(%a: tensor<8x4xf32> {mhlo.sharding = "{devices=[2,1]0,1}"},
                  %b: tensor<4x3xf32> {mhlo.sharding = "{replicated}"})
      -> (tensor<8x3xf32> {mhlo.sharding = "{devices=[2,1]0,1}"}, tensor<f32> {mhlo.sharding = "{replicated}"}) {
    %c = stablehlo.dot_general %a, %b, contracting_dims = [1] x [0] : (tensor<8x4xf32>, tensor<4x3xf32>) -> tensor<8x3xf32>
    %zero = stablehlo.constant dense<0.0> : tensor<f32>
    %total = stablehlo.reduce(%c init: %zero) applies stablehlo.add across dimensions = [0, 1] : (tensor<8x3xf32>, tensor<f32>) -> tensor<f32>
    return %c, %total : tensor<8x3xf32>, tensor<f32>
  }
}
