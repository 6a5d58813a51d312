module @xlatrain {
  func.func public @main(%wte: tensor<32x16xf32>, %wpe: tensor<8x16xf32>, %ln_1.scale: tensor<16xf32>, %ln_1.bias: tensor<16xf32>, %attn.c_attn.w: tensor<16x48xf32>, %attn.c_attn.b: tensor<48xf32>, %attn.c_proj.w: tensor<16x16xf32>, %attn.c_proj.b: tensor<16xf32>, %ln_2.scale: tensor<16xf32>, %ln_2.bias: tensor<16xf32>, %mlp.c_fc.w: tensor<16x64xf32>, %mlp.c_fc.b: tensor<64xf32>, %mlp.c_proj.w: tensor<64x16xf32>, %mlp.c_proj.b: tensor<16xf32>, %ln_f.scale: tensor<16xf32>, %ln_f.bias: tensor<16xf32>, %tokens: tensor<2x8xi32>, %targets: tensor<2x8xi32>) -> (tensor<f32>, tensor<32x16xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16x48xf32>, tensor<48xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16x64xf32>, tensor<64xf32>, tensor<64x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) {
    %0 = stablehlo.reshape %tokens : (tensor<2x8xi32>) -> tensor<16x1xi32>
    %1 = "stablehlo.gather"(%wte, %0) <{dimension_numbers = #stablehlo.gather<offset_dims = [1], collapsed_slice_dims = [0], start_index_map = [0], index_vector_dim = 1>, indices_are_sorted = false, slice_sizes = array<i64: 1, 16>}> : (tensor<32x16xf32>, tensor<16x1xi32>) -> tensor<16x16xf32>
    %2 = stablehlo.reshape %1 : (tensor<16x16xf32>) -> tensor<2x8x16xf32>
    %3 = stablehlo.broadcast_in_dim %wpe, dims = [1, 2] : (tensor<8x16xf32>) -> tensor<2x8x16xf32>
    %4 = stablehlo.add %2, %3 : tensor<2x8x16xf32>
    %5 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %6 = stablehlo.reduce(%4 init: %5) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
    %7 = stablehlo.reshape %6 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %8 = stablehlo.constant dense<6.25e-02> : tensor<2x8x1xf32>
    %9 = stablehlo.multiply %7, %8 : tensor<2x8x1xf32>
    %10 = stablehlo.broadcast_in_dim %9, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
    %11 = stablehlo.subtract %4, %10 : tensor<2x8x16xf32>
    %12 = stablehlo.multiply %11, %11 : tensor<2x8x16xf32>
    %13 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %14 = stablehlo.reduce(%12 init: %13) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
    %15 = stablehlo.reshape %14 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %16 = stablehlo.constant dense<6.25e-02> : tensor<2x8x1xf32>
    %17 = stablehlo.multiply %15, %16 : tensor<2x8x1xf32>
    %18 = stablehlo.constant dense<1.0e-05> : tensor<2x8x1xf32>
    %19 = stablehlo.add %17, %18 : tensor<2x8x1xf32>
    %20 = stablehlo.rsqrt %19 : tensor<2x8x1xf32>
    %21 = stablehlo.broadcast_in_dim %20, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
    %22 = stablehlo.multiply %11, %21 : tensor<2x8x16xf32>
    %23 = stablehlo.broadcast_in_dim %ln_1.scale, dims = [2] : (tensor<16xf32>) -> tensor<2x8x16xf32>
    %24 = stablehlo.multiply %22, %23 : tensor<2x8x16xf32>
    %25 = stablehlo.broadcast_in_dim %ln_1.bias, dims = [2] : (tensor<16xf32>) -> tensor<2x8x16xf32>
    %26 = stablehlo.add %24, %25 : tensor<2x8x16xf32>
    %27 = stablehlo.dot_general %26, %attn.c_attn.w, contracting_dims = [2] x [0] : (tensor<2x8x16xf32>, tensor<16x48xf32>) -> tensor<2x8x48xf32>
    %28 = stablehlo.broadcast_in_dim %attn.c_attn.b, dims = [2] : (tensor<48xf32>) -> tensor<2x8x48xf32>
    %29 = stablehlo.add %27, %28 : tensor<2x8x48xf32>
    %30 = "stablehlo.slice"(%29) <{start_indices = array<i64: 0, 0, 0>, limit_indices = array<i64: 2, 8, 16>, strides = array<i64: 1, 1, 1>}> : (tensor<2x8x48xf32>) -> tensor<2x8x16xf32>
    %31 = stablehlo.reshape %30 : (tensor<2x8x16xf32>) -> tensor<2x8x2x8xf32>
    %32 = stablehlo.transpose %31, dims = [0, 2, 1, 3] : (tensor<2x8x2x8xf32>) -> tensor<2x2x8x8xf32>
    %33 = "stablehlo.slice"(%29) <{start_indices = array<i64: 0, 0, 16>, limit_indices = array<i64: 2, 8, 32>, strides = array<i64: 1, 1, 1>}> : (tensor<2x8x48xf32>) -> tensor<2x8x16xf32>
    %34 = stablehlo.reshape %33 : (tensor<2x8x16xf32>) -> tensor<2x8x2x8xf32>
    %35 = stablehlo.transpose %34, dims = [0, 2, 1, 3] : (tensor<2x8x2x8xf32>) -> tensor<2x2x8x8xf32>
    %36 = "stablehlo.slice"(%29) <{start_indices = array<i64: 0, 0, 32>, limit_indices = array<i64: 2, 8, 48>, strides = array<i64: 1, 1, 1>}> : (tensor<2x8x48xf32>) -> tensor<2x8x16xf32>
    %37 = stablehlo.reshape %36 : (tensor<2x8x16xf32>) -> tensor<2x8x2x8xf32>
    %38 = stablehlo.transpose %37, dims = [0, 2, 1, 3] : (tensor<2x8x2x8xf32>) -> tensor<2x2x8x8xf32>
    %39 = stablehlo.dot_general %32, %35, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [3] : (tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>) -> tensor<2x2x8x8xf32>
    %40 = stablehlo.constant dense<3.5355338e-01> : tensor<2x2x8x8xf32>
    %41 = stablehlo.multiply %39, %40 : tensor<2x2x8x8xf32>
    %42 = stablehlo.iota dim = 0 : tensor<8x8xi32>
    %43 = stablehlo.iota dim = 1 : tensor<8x8xi32>
    %44 = stablehlo.compare GT, %43, %42, SIGNED : (tensor<8x8xi32>, tensor<8x8xi32>) -> tensor<8x8xi1>
    %45 = stablehlo.broadcast_in_dim %44, dims = [2, 3] : (tensor<8x8xi1>) -> tensor<2x2x8x8xi1>
    %46 = stablehlo.constant dense<-1.0e+09> : tensor<2x2x8x8xf32>
    %47 = stablehlo.select %45, %46, %41 : (tensor<2x2x8x8xi1>, tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>) -> tensor<2x2x8x8xf32>
    %48 = stablehlo.constant dense<0xFF800000> : tensor<f32>
    %49 = stablehlo.reduce(%47 init: %48) applies stablehlo.maximum across dimensions = [3] : (tensor<2x2x8x8xf32>, tensor<f32>) -> tensor<2x2x8xf32>
    %50 = stablehlo.reshape %49 : (tensor<2x2x8xf32>) -> tensor<2x2x8x1xf32>
    %51 = stablehlo.broadcast_in_dim %50, dims = [0, 1, 2, 3] : (tensor<2x2x8x1xf32>) -> tensor<2x2x8x8xf32>
    %52 = stablehlo.subtract %47, %51 : tensor<2x2x8x8xf32>
    %53 = stablehlo.exponential %52 : tensor<2x2x8x8xf32>
    %54 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %55 = stablehlo.reduce(%53 init: %54) applies stablehlo.add across dimensions = [3] : (tensor<2x2x8x8xf32>, tensor<f32>) -> tensor<2x2x8xf32>
    %56 = stablehlo.reshape %55 : (tensor<2x2x8xf32>) -> tensor<2x2x8x1xf32>
    %57 = stablehlo.broadcast_in_dim %56, dims = [0, 1, 2, 3] : (tensor<2x2x8x1xf32>) -> tensor<2x2x8x8xf32>
    %58 = stablehlo.divide %53, %57 : tensor<2x2x8x8xf32>
    %59 = stablehlo.dot_general %58, %38, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2] : (tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>) -> tensor<2x2x8x8xf32>
    %60 = stablehlo.transpose %59, dims = [0, 2, 1, 3] : (tensor<2x2x8x8xf32>) -> tensor<2x8x2x8xf32>
    %61 = stablehlo.reshape %60 : (tensor<2x8x2x8xf32>) -> tensor<2x8x16xf32>
    %62 = stablehlo.dot_general %61, %attn.c_proj.w, contracting_dims = [2] x [0] : (tensor<2x8x16xf32>, tensor<16x16xf32>) -> tensor<2x8x16xf32>
    %63 = stablehlo.broadcast_in_dim %attn.c_proj.b, dims = [2] : (tensor<16xf32>) -> tensor<2x8x16xf32>
    %64 = stablehlo.add %62, %63 : tensor<2x8x16xf32>
    %65 = stablehlo.add %4, %64 : tensor<2x8x16xf32>
    %66 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %67 = stablehlo.reduce(%65 init: %66) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
    %68 = stablehlo.reshape %67 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %69 = stablehlo.constant dense<6.25e-02> : tensor<2x8x1xf32>
    %70 = stablehlo.multiply %68, %69 : tensor<2x8x1xf32>
    %71 = stablehlo.broadcast_in_dim %70, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
    %72 = stablehlo.subtract %65, %71 : tensor<2x8x16xf32>
    %73 = stablehlo.multiply %72, %72 : tensor<2x8x16xf32>
    %74 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %75 = stablehlo.reduce(%73 init: %74) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
    %76 = stablehlo.reshape %75 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %77 = stablehlo.constant dense<6.25e-02> : tensor<2x8x1xf32>
    %78 = stablehlo.multiply %76, %77 : tensor<2x8x1xf32>
    %79 = stablehlo.constant dense<1.0e-05> : tensor<2x8x1xf32>
    %80 = stablehlo.add %78, %79 : tensor<2x8x1xf32>
    %81 = stablehlo.rsqrt %80 : tensor<2x8x1xf32>
    %82 = stablehlo.broadcast_in_dim %81, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
    %83 = stablehlo.multiply %72, %82 : tensor<2x8x16xf32>
    %84 = stablehlo.broadcast_in_dim %ln_2.scale, dims = [2] : (tensor<16xf32>) -> tensor<2x8x16xf32>
    %85 = stablehlo.multiply %83, %84 : tensor<2x8x16xf32>
    %86 = stablehlo.broadcast_in_dim %ln_2.bias, dims = [2] : (tensor<16xf32>) -> tensor<2x8x16xf32>
    %87 = stablehlo.add %85, %86 : tensor<2x8x16xf32>
    %88 = stablehlo.dot_general %87, %mlp.c_fc.w, contracting_dims = [2] x [0] : (tensor<2x8x16xf32>, tensor<16x64xf32>) -> tensor<2x8x64xf32>
    %89 = stablehlo.broadcast_in_dim %mlp.c_fc.b, dims = [2] : (tensor<64xf32>) -> tensor<2x8x64xf32>
    %90 = stablehlo.add %88, %89 : tensor<2x8x64xf32>
    %91 = stablehlo.multiply %90, %90 : tensor<2x8x64xf32>
    %92 = stablehlo.multiply %91, %90 : tensor<2x8x64xf32>
    %93 = stablehlo.constant dense<4.4715e-02> : tensor<2x8x64xf32>
    %94 = stablehlo.multiply %92, %93 : tensor<2x8x64xf32>
    %95 = stablehlo.add %90, %94 : tensor<2x8x64xf32>
    %96 = stablehlo.constant dense<7.978846e-01> : tensor<2x8x64xf32>
    %97 = stablehlo.multiply %95, %96 : tensor<2x8x64xf32>
    %98 = stablehlo.tanh %97 : tensor<2x8x64xf32>
    %99 = stablehlo.constant dense<1.0e+00> : tensor<2x8x64xf32>
    %100 = stablehlo.add %98, %99 : tensor<2x8x64xf32>
    %101 = stablehlo.constant dense<5.0e-01> : tensor<2x8x64xf32>
    %102 = stablehlo.multiply %90, %101 : tensor<2x8x64xf32>
    %103 = stablehlo.multiply %102, %100 : tensor<2x8x64xf32>
    %104 = stablehlo.dot_general %103, %mlp.c_proj.w, contracting_dims = [2] x [0] : (tensor<2x8x64xf32>, tensor<64x16xf32>) -> tensor<2x8x16xf32>
    %105 = stablehlo.broadcast_in_dim %mlp.c_proj.b, dims = [2] : (tensor<16xf32>) -> tensor<2x8x16xf32>
    %106 = stablehlo.add %104, %105 : tensor<2x8x16xf32>
    %107 = stablehlo.add %65, %106 : tensor<2x8x16xf32>
    %108 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %109 = stablehlo.reduce(%107 init: %108) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
    %110 = stablehlo.reshape %109 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %111 = stablehlo.constant dense<6.25e-02> : tensor<2x8x1xf32>
    %112 = stablehlo.multiply %110, %111 : tensor<2x8x1xf32>
    %113 = stablehlo.broadcast_in_dim %112, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
    %114 = stablehlo.subtract %107, %113 : tensor<2x8x16xf32>
    %115 = stablehlo.multiply %114, %114 : tensor<2x8x16xf32>
    %116 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %117 = stablehlo.reduce(%115 init: %116) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
    %118 = stablehlo.reshape %117 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %119 = stablehlo.constant dense<6.25e-02> : tensor<2x8x1xf32>
    %120 = stablehlo.multiply %118, %119 : tensor<2x8x1xf32>
    %121 = stablehlo.constant dense<1.0e-05> : tensor<2x8x1xf32>
    %122 = stablehlo.add %120, %121 : tensor<2x8x1xf32>
    %123 = stablehlo.rsqrt %122 : tensor<2x8x1xf32>
    %124 = stablehlo.broadcast_in_dim %123, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
    %125 = stablehlo.multiply %114, %124 : tensor<2x8x16xf32>
    %126 = stablehlo.broadcast_in_dim %ln_f.scale, dims = [2] : (tensor<16xf32>) -> tensor<2x8x16xf32>
    %127 = stablehlo.multiply %125, %126 : tensor<2x8x16xf32>
    %128 = stablehlo.broadcast_in_dim %ln_f.bias, dims = [2] : (tensor<16xf32>) -> tensor<2x8x16xf32>
    %129 = stablehlo.add %127, %128 : tensor<2x8x16xf32>
    %logits = stablehlo.dot_general %129, %wte, contracting_dims = [2] x [1] : (tensor<2x8x16xf32>, tensor<32x16xf32>) -> tensor<2x8x32xf32>
    %130 = stablehlo.constant dense<0xFF800000> : tensor<f32>
    %131 = stablehlo.reduce(%logits init: %130) applies stablehlo.maximum across dimensions = [2] : (tensor<2x8x32xf32>, tensor<f32>) -> tensor<2x8xf32>
    %132 = stablehlo.reshape %131 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %133 = stablehlo.broadcast_in_dim %132, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x32xf32>
    %134 = stablehlo.subtract %logits, %133 : tensor<2x8x32xf32>
    %135 = stablehlo.exponential %134 : tensor<2x8x32xf32>
    %136 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %137 = stablehlo.reduce(%135 init: %136) applies stablehlo.add across dimensions = [2] : (tensor<2x8x32xf32>, tensor<f32>) -> tensor<2x8xf32>
    %138 = stablehlo.reshape %137 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %139 = stablehlo.log %138 : tensor<2x8x1xf32>
    %140 = stablehlo.broadcast_in_dim %139, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x32xf32>
    %141 = stablehlo.subtract %134, %140 : tensor<2x8x32xf32>
    %142 = stablehlo.iota dim = 2 : tensor<2x8x32xi32>
    %143 = stablehlo.reshape %targets : (tensor<2x8xi32>) -> tensor<2x8x1xi32>
    %144 = stablehlo.broadcast_in_dim %143, dims = [0, 1, 2] : (tensor<2x8x1xi32>) -> tensor<2x8x32xi32>
    %145 = stablehlo.compare EQ, %142, %144, SIGNED : (tensor<2x8x32xi32>, tensor<2x8x32xi32>) -> tensor<2x8x32xi1>
    %146 = stablehlo.convert %145 : (tensor<2x8x32xi1>) -> tensor<2x8x32xf32>
    %147 = stablehlo.multiply %141, %146 : tensor<2x8x32xf32>
    %148 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %149 = stablehlo.reduce(%147 init: %148) applies stablehlo.add across dimensions = [0, 1, 2] : (tensor<2x8x32xf32>, tensor<f32>) -> tensor<f32>
    %150 = stablehlo.constant dense<-6.25e-02> : tensor<f32>
    %loss = stablehlo.multiply %149, %150 : tensor<f32>
    %151 = stablehlo.constant dense<1.0e+00> : tensor<f32>
    %152 = stablehlo.multiply %151, %150 : tensor<f32>
    %153 = stablehlo.broadcast_in_dim %152, dims = [] : (tensor<f32>) -> tensor<2x8x32xf32>
    %154 = stablehlo.multiply %153, %146 : tensor<2x8x32xf32>
    %155 = stablehlo.negate %154 : tensor<2x8x32xf32>
    %156 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %157 = stablehlo.reduce(%155 init: %156) applies stablehlo.add across dimensions = [2] : (tensor<2x8x32xf32>, tensor<f32>) -> tensor<2x8xf32>
    %158 = stablehlo.reshape %157 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %159 = stablehlo.divide %158, %138 : tensor<2x8x1xf32>
    %160 = stablehlo.reshape %159 : (tensor<2x8x1xf32>) -> tensor<2x8xf32>
    %161 = stablehlo.broadcast_in_dim %160, dims = [0, 1] : (tensor<2x8xf32>) -> tensor<2x8x32xf32>
    %162 = stablehlo.multiply %161, %135 : tensor<2x8x32xf32>
    %163 = stablehlo.add %154, %162 : tensor<2x8x32xf32>
    %164 = stablehlo.dot_general %163, %wte, contracting_dims = [2] x [0] : (tensor<2x8x32xf32>, tensor<32x16xf32>) -> tensor<2x8x16xf32>
    %165 = stablehlo.dot_general %163, %129, contracting_dims = [0, 1] x [0, 1] : (tensor<2x8x32xf32>, tensor<2x8x16xf32>) -> tensor<32x16xf32>
    %166 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.ln_f.bias = stablehlo.reduce(%164 init: %166) applies stablehlo.add across dimensions = [0, 1] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<16xf32>
    %167 = stablehlo.multiply %164, %126 : tensor<2x8x16xf32>
    %168 = stablehlo.multiply %164, %125 : tensor<2x8x16xf32>
    %169 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.ln_f.scale = stablehlo.reduce(%168 init: %169) applies stablehlo.add across dimensions = [0, 1] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<16xf32>
    %170 = stablehlo.multiply %167, %124 : tensor<2x8x16xf32>
    %171 = stablehlo.multiply %167, %114 : tensor<2x8x16xf32>
    %172 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %173 = stablehlo.reduce(%171 init: %172) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
    %174 = stablehlo.reshape %173 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %175 = stablehlo.divide %123, %122 : tensor<2x8x1xf32>
    %176 = stablehlo.constant dense<-5.0e-01> : tensor<2x8x1xf32>
    %177 = stablehlo.multiply %175, %176 : tensor<2x8x1xf32>
    %178 = stablehlo.multiply %174, %177 : tensor<2x8x1xf32>
    %179 = stablehlo.multiply %178, %119 : tensor<2x8x1xf32>
    %180 = stablehlo.reshape %179 : (tensor<2x8x1xf32>) -> tensor<2x8xf32>
    %181 = stablehlo.broadcast_in_dim %180, dims = [0, 1] : (tensor<2x8xf32>) -> tensor<2x8x16xf32>
    %182 = stablehlo.multiply %181, %114 : tensor<2x8x16xf32>
    %183 = stablehlo.multiply %181, %114 : tensor<2x8x16xf32>
    %184 = stablehlo.add %170, %182 : tensor<2x8x16xf32>
    %185 = stablehlo.add %184, %183 : tensor<2x8x16xf32>
    %186 = stablehlo.negate %185 : tensor<2x8x16xf32>
    %187 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %188 = stablehlo.reduce(%186 init: %187) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
    %189 = stablehlo.reshape %188 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %190 = stablehlo.multiply %189, %111 : tensor<2x8x1xf32>
    %191 = stablehlo.reshape %190 : (tensor<2x8x1xf32>) -> tensor<2x8xf32>
    %192 = stablehlo.broadcast_in_dim %191, dims = [0, 1] : (tensor<2x8xf32>) -> tensor<2x8x16xf32>
    %193 = stablehlo.add %185, %192 : tensor<2x8x16xf32>
    %194 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.mlp.c_proj.b = stablehlo.reduce(%193 init: %194) applies stablehlo.add across dimensions = [0, 1] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<16xf32>
    %195 = stablehlo.dot_general %193, %mlp.c_proj.w, contracting_dims = [2] x [1] : (tensor<2x8x16xf32>, tensor<64x16xf32>) -> tensor<2x8x64xf32>
    %196 = stablehlo.dot_general %193, %103, contracting_dims = [0, 1] x [0, 1] : (tensor<2x8x16xf32>, tensor<2x8x64xf32>) -> tensor<16x64xf32>
    %grad.mlp.c_proj.w = stablehlo.transpose %196, dims = [1, 0] : (tensor<16x64xf32>) -> tensor<64x16xf32>
    %197 = stablehlo.multiply %195, %100 : tensor<2x8x64xf32>
    %198 = stablehlo.multiply %195, %102 : tensor<2x8x64xf32>
    %199 = stablehlo.multiply %197, %101 : tensor<2x8x64xf32>
    %200 = stablehlo.multiply %98, %98 : tensor<2x8x64xf32>
    %201 = stablehlo.constant dense<1.0e+00> : tensor<2x8x64xf32>
    %202 = stablehlo.subtract %201, %200 : tensor<2x8x64xf32>
    %203 = stablehlo.multiply %198, %202 : tensor<2x8x64xf32>
    %204 = stablehlo.multiply %203, %96 : tensor<2x8x64xf32>
    %205 = stablehlo.add %199, %204 : tensor<2x8x64xf32>
    %206 = stablehlo.multiply %204, %93 : tensor<2x8x64xf32>
    %207 = stablehlo.multiply %206, %90 : tensor<2x8x64xf32>
    %208 = stablehlo.multiply %206, %91 : tensor<2x8x64xf32>
    %209 = stablehlo.add %205, %208 : tensor<2x8x64xf32>
    %210 = stablehlo.multiply %207, %90 : tensor<2x8x64xf32>
    %211 = stablehlo.multiply %207, %90 : tensor<2x8x64xf32>
    %212 = stablehlo.add %209, %210 : tensor<2x8x64xf32>
    %213 = stablehlo.add %212, %211 : tensor<2x8x64xf32>
    %214 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.mlp.c_fc.b = stablehlo.reduce(%213 init: %214) applies stablehlo.add across dimensions = [0, 1] : (tensor<2x8x64xf32>, tensor<f32>) -> tensor<64xf32>
    %215 = stablehlo.dot_general %213, %mlp.c_fc.w, contracting_dims = [2] x [1] : (tensor<2x8x64xf32>, tensor<16x64xf32>) -> tensor<2x8x16xf32>
    %216 = stablehlo.dot_general %213, %87, contracting_dims = [0, 1] x [0, 1] : (tensor<2x8x64xf32>, tensor<2x8x16xf32>) -> tensor<64x16xf32>
    %grad.mlp.c_fc.w = stablehlo.transpose %216, dims = [1, 0] : (tensor<64x16xf32>) -> tensor<16x64xf32>
    %217 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.ln_2.bias = stablehlo.reduce(%215 init: %217) applies stablehlo.add across dimensions = [0, 1] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<16xf32>
    %218 = stablehlo.multiply %215, %84 : tensor<2x8x16xf32>
    %219 = stablehlo.multiply %215, %83 : tensor<2x8x16xf32>
    %220 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.ln_2.scale = stablehlo.reduce(%219 init: %220) applies stablehlo.add across dimensions = [0, 1] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<16xf32>
    %221 = stablehlo.multiply %218, %82 : tensor<2x8x16xf32>
    %222 = stablehlo.multiply %218, %72 : tensor<2x8x16xf32>
    %223 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %224 = stablehlo.reduce(%222 init: %223) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
    %225 = stablehlo.reshape %224 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %226 = stablehlo.divide %81, %80 : tensor<2x8x1xf32>
    %227 = stablehlo.constant dense<-5.0e-01> : tensor<2x8x1xf32>
    %228 = stablehlo.multiply %226, %227 : tensor<2x8x1xf32>
    %229 = stablehlo.multiply %225, %228 : tensor<2x8x1xf32>
    %230 = stablehlo.multiply %229, %77 : tensor<2x8x1xf32>
    %231 = stablehlo.reshape %230 : (tensor<2x8x1xf32>) -> tensor<2x8xf32>
    %232 = stablehlo.broadcast_in_dim %231, dims = [0, 1] : (tensor<2x8xf32>) -> tensor<2x8x16xf32>
    %233 = stablehlo.multiply %232, %72 : tensor<2x8x16xf32>
    %234 = stablehlo.multiply %232, %72 : tensor<2x8x16xf32>
    %235 = stablehlo.add %221, %233 : tensor<2x8x16xf32>
    %236 = stablehlo.add %235, %234 : tensor<2x8x16xf32>
    %237 = stablehlo.negate %236 : tensor<2x8x16xf32>
    %238 = stablehlo.add %193, %236 : tensor<2x8x16xf32>
    %239 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %240 = stablehlo.reduce(%237 init: %239) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
    %241 = stablehlo.reshape %240 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %242 = stablehlo.multiply %241, %69 : tensor<2x8x1xf32>
    %243 = stablehlo.reshape %242 : (tensor<2x8x1xf32>) -> tensor<2x8xf32>
    %244 = stablehlo.broadcast_in_dim %243, dims = [0, 1] : (tensor<2x8xf32>) -> tensor<2x8x16xf32>
    %245 = stablehlo.add %238, %244 : tensor<2x8x16xf32>
    %246 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.attn.c_proj.b = stablehlo.reduce(%245 init: %246) applies stablehlo.add across dimensions = [0, 1] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<16xf32>
    %247 = stablehlo.dot_general %245, %attn.c_proj.w, contracting_dims = [2] x [1] : (tensor<2x8x16xf32>, tensor<16x16xf32>) -> tensor<2x8x16xf32>
    %248 = stablehlo.dot_general %245, %61, contracting_dims = [0, 1] x [0, 1] : (tensor<2x8x16xf32>, tensor<2x8x16xf32>) -> tensor<16x16xf32>
    %grad.attn.c_proj.w = stablehlo.transpose %248, dims = [1, 0] : (tensor<16x16xf32>) -> tensor<16x16xf32>
    %249 = stablehlo.reshape %247 : (tensor<2x8x16xf32>) -> tensor<2x8x2x8xf32>
    %250 = stablehlo.transpose %249, dims = [0, 2, 1, 3] : (tensor<2x8x2x8xf32>) -> tensor<2x2x8x8xf32>
    %251 = stablehlo.dot_general %250, %38, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [3] : (tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>) -> tensor<2x2x8x8xf32>
    %252 = stablehlo.dot_general %250, %58, batching_dims = [0, 1] x [0, 1], contracting_dims = [2] x [2] : (tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>) -> tensor<2x2x8x8xf32>
    %253 = stablehlo.transpose %252, dims = [0, 1, 3, 2] : (tensor<2x2x8x8xf32>) -> tensor<2x2x8x8xf32>
    %254 = stablehlo.divide %251, %57 : tensor<2x2x8x8xf32>
    %255 = stablehlo.multiply %251, %58 : tensor<2x2x8x8xf32>
    %256 = stablehlo.divide %255, %57 : tensor<2x2x8x8xf32>
    %257 = stablehlo.negate %256 : tensor<2x2x8x8xf32>
    %258 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %259 = stablehlo.reduce(%257 init: %258) applies stablehlo.add across dimensions = [3] : (tensor<2x2x8x8xf32>, tensor<f32>) -> tensor<2x2x8xf32>
    %260 = stablehlo.reshape %259 : (tensor<2x2x8xf32>) -> tensor<2x2x8x1xf32>
    %261 = stablehlo.reshape %260 : (tensor<2x2x8x1xf32>) -> tensor<2x2x8xf32>
    %262 = stablehlo.broadcast_in_dim %261, dims = [0, 1, 2] : (tensor<2x2x8xf32>) -> tensor<2x2x8x8xf32>
    %263 = stablehlo.add %254, %262 : tensor<2x2x8x8xf32>
    %264 = stablehlo.multiply %263, %53 : tensor<2x2x8x8xf32>
    %265 = stablehlo.constant dense<0.0e+00> : tensor<2x2x8x8xf32>
    %266 = stablehlo.select %45, %265, %264 : (tensor<2x2x8x8xi1>, tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>) -> tensor<2x2x8x8xf32>
    %267 = stablehlo.multiply %266, %40 : tensor<2x2x8x8xf32>
    %268 = stablehlo.dot_general %267, %35, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2] : (tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>) -> tensor<2x2x8x8xf32>
    %269 = stablehlo.dot_general %267, %32, batching_dims = [0, 1] x [0, 1], contracting_dims = [2] x [2] : (tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>) -> tensor<2x2x8x8xf32>
    %270 = stablehlo.transpose %253, dims = [0, 2, 1, 3] : (tensor<2x2x8x8xf32>) -> tensor<2x8x2x8xf32>
    %271 = stablehlo.reshape %270 : (tensor<2x8x2x8xf32>) -> tensor<2x8x16xf32>
    %272 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %273 = stablehlo.pad %271, %272, low = [0, 0, 32], high = [0, 0, 0], interior = [0, 0, 0] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8x48xf32>
    %274 = stablehlo.transpose %269, dims = [0, 2, 1, 3] : (tensor<2x2x8x8xf32>) -> tensor<2x8x2x8xf32>
    %275 = stablehlo.reshape %274 : (tensor<2x8x2x8xf32>) -> tensor<2x8x16xf32>
    %276 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %277 = stablehlo.pad %275, %276, low = [0, 0, 16], high = [0, 0, 16], interior = [0, 0, 0] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8x48xf32>
    %278 = stablehlo.add %273, %277 : tensor<2x8x48xf32>
    %279 = stablehlo.transpose %268, dims = [0, 2, 1, 3] : (tensor<2x2x8x8xf32>) -> tensor<2x8x2x8xf32>
    %280 = stablehlo.reshape %279 : (tensor<2x8x2x8xf32>) -> tensor<2x8x16xf32>
    %281 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %282 = stablehlo.pad %280, %281, low = [0, 0, 0], high = [0, 0, 32], interior = [0, 0, 0] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8x48xf32>
    %283 = stablehlo.add %278, %282 : tensor<2x8x48xf32>
    %284 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.attn.c_attn.b = stablehlo.reduce(%283 init: %284) applies stablehlo.add across dimensions = [0, 1] : (tensor<2x8x48xf32>, tensor<f32>) -> tensor<48xf32>
    %285 = stablehlo.dot_general %283, %attn.c_attn.w, contracting_dims = [2] x [1] : (tensor<2x8x48xf32>, tensor<16x48xf32>) -> tensor<2x8x16xf32>
    %286 = stablehlo.dot_general %283, %26, contracting_dims = [0, 1] x [0, 1] : (tensor<2x8x48xf32>, tensor<2x8x16xf32>) -> tensor<48x16xf32>
    %grad.attn.c_attn.w = stablehlo.transpose %286, dims = [1, 0] : (tensor<48x16xf32>) -> tensor<16x48xf32>
    %287 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.ln_1.bias = stablehlo.reduce(%285 init: %287) applies stablehlo.add across dimensions = [0, 1] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<16xf32>
    %288 = stablehlo.multiply %285, %23 : tensor<2x8x16xf32>
    %289 = stablehlo.multiply %285, %22 : tensor<2x8x16xf32>
    %290 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.ln_1.scale = stablehlo.reduce(%289 init: %290) applies stablehlo.add across dimensions = [0, 1] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<16xf32>
    %291 = stablehlo.multiply %288, %21 : tensor<2x8x16xf32>
    %292 = stablehlo.multiply %288, %11 : tensor<2x8x16xf32>
    %293 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %294 = stablehlo.reduce(%292 init: %293) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
    %295 = stablehlo.reshape %294 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %296 = stablehlo.divide %20, %19 : tensor<2x8x1xf32>
    %297 = stablehlo.constant dense<-5.0e-01> : tensor<2x8x1xf32>
    %298 = stablehlo.multiply %296, %297 : tensor<2x8x1xf32>
    %299 = stablehlo.multiply %295, %298 : tensor<2x8x1xf32>
    %300 = stablehlo.multiply %299, %16 : tensor<2x8x1xf32>
    %301 = stablehlo.reshape %300 : (tensor<2x8x1xf32>) -> tensor<2x8xf32>
    %302 = stablehlo.broadcast_in_dim %301, dims = [0, 1] : (tensor<2x8xf32>) -> tensor<2x8x16xf32>
    %303 = stablehlo.multiply %302, %11 : tensor<2x8x16xf32>
    %304 = stablehlo.multiply %302, %11 : tensor<2x8x16xf32>
    %305 = stablehlo.add %291, %303 : tensor<2x8x16xf32>
    %306 = stablehlo.add %305, %304 : tensor<2x8x16xf32>
    %307 = stablehlo.negate %306 : tensor<2x8x16xf32>
    %308 = stablehlo.add %245, %306 : tensor<2x8x16xf32>
    %309 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %310 = stablehlo.reduce(%307 init: %309) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
    %311 = stablehlo.reshape %310 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %312 = stablehlo.multiply %311, %8 : tensor<2x8x1xf32>
    %313 = stablehlo.reshape %312 : (tensor<2x8x1xf32>) -> tensor<2x8xf32>
    %314 = stablehlo.broadcast_in_dim %313, dims = [0, 1] : (tensor<2x8xf32>) -> tensor<2x8x16xf32>
    %315 = stablehlo.add %308, %314 : tensor<2x8x16xf32>
    %316 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.wpe = stablehlo.reduce(%315 init: %316) applies stablehlo.add across dimensions = [0] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<8x16xf32>
    %317 = stablehlo.reshape %315 : (tensor<2x8x16xf32>) -> tensor<16x16xf32>
    %318 = stablehlo.constant dense<0.0e+00> : tensor<32x16xf32>
    %322 = "stablehlo.scatter"(%318, %0, %317) <{indices_are_sorted = false, scatter_dimension_numbers = #stablehlo.scatter<update_window_dims = [1], inserted_window_dims = [0], scatter_dims_to_operand_dims = [0], index_vector_dim = 1>, unique_indices = false}> ({
      ^bb0(%319: tensor<f32>, %320: tensor<f32>):
        %321 = stablehlo.add %319, %320 : tensor<f32>
        stablehlo.return %321 : tensor<f32>
    }) : (tensor<32x16xf32>, tensor<16x1xi32>, tensor<16x16xf32>) -> tensor<32x16xf32>
    %grad.wte = stablehlo.add %165, %322 : tensor<32x16xf32>
    return %loss, %grad.wte, %grad.wpe, %grad.ln_1.scale, %grad.ln_1.bias, %grad.attn.c_attn.w, %grad.attn.c_attn.b, %grad.attn.c_proj.w, %grad.attn.c_proj.b, %grad.ln_2.scale, %grad.ln_2.bias, %grad.mlp.c_fc.w, %grad.mlp.c_fc.b, %grad.mlp.c_proj.w, %grad.mlp.c_proj.b, %grad.ln_f.scale, %grad.ln_f.bias : tensor<f32>, tensor<32x16xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16x48xf32>, tensor<48xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16x64xf32>, tensor<64xf32>, tensor<64x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>
  }
}
