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
    %8 = stablehlo.constant dense<6.25e-02> : tensor<f32>
    %9 = stablehlo.broadcast_in_dim %8, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
    %10 = stablehlo.multiply %7, %9 : tensor<2x8x1xf32>
    %11 = stablehlo.broadcast_in_dim %10, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
    %12 = stablehlo.subtract %4, %11 : tensor<2x8x16xf32>
    %13 = stablehlo.multiply %12, %12 : tensor<2x8x16xf32>
    %14 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %15 = stablehlo.reduce(%13 init: %14) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
    %16 = stablehlo.reshape %15 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %17 = stablehlo.constant dense<6.25e-02> : tensor<f32>
    %18 = stablehlo.broadcast_in_dim %17, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
    %19 = stablehlo.multiply %16, %18 : tensor<2x8x1xf32>
    %20 = stablehlo.constant dense<1.0e-05> : tensor<f32>
    %21 = stablehlo.broadcast_in_dim %20, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
    %22 = stablehlo.add %19, %21 : tensor<2x8x1xf32>
    %23 = stablehlo.rsqrt %22 : tensor<2x8x1xf32>
    %24 = stablehlo.broadcast_in_dim %23, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
    %25 = stablehlo.multiply %12, %24 : tensor<2x8x16xf32>
    %26 = stablehlo.broadcast_in_dim %ln_1.scale, dims = [2] : (tensor<16xf32>) -> tensor<2x8x16xf32>
    %27 = stablehlo.multiply %25, %26 : tensor<2x8x16xf32>
    %28 = stablehlo.broadcast_in_dim %ln_1.bias, dims = [2] : (tensor<16xf32>) -> tensor<2x8x16xf32>
    %29 = stablehlo.add %27, %28 : tensor<2x8x16xf32>
    %30 = stablehlo.dot_general %29, %attn.c_attn.w, contracting_dims = [2] x [0] : (tensor<2x8x16xf32>, tensor<16x48xf32>) -> tensor<2x8x48xf32>
    %31 = stablehlo.broadcast_in_dim %attn.c_attn.b, dims = [2] : (tensor<48xf32>) -> tensor<2x8x48xf32>
    %32 = stablehlo.add %30, %31 : tensor<2x8x48xf32>
    %33 = "stablehlo.slice"(%32) <{start_indices = array<i64: 0, 0, 0>, limit_indices = array<i64: 2, 8, 16>, strides = array<i64: 1, 1, 1>}> : (tensor<2x8x48xf32>) -> tensor<2x8x16xf32>
    %34 = stablehlo.reshape %33 : (tensor<2x8x16xf32>) -> tensor<2x8x2x8xf32>
    %35 = stablehlo.transpose %34, dims = [0, 2, 1, 3] : (tensor<2x8x2x8xf32>) -> tensor<2x2x8x8xf32>
    %36 = "stablehlo.slice"(%32) <{start_indices = array<i64: 0, 0, 16>, limit_indices = array<i64: 2, 8, 32>, strides = array<i64: 1, 1, 1>}> : (tensor<2x8x48xf32>) -> tensor<2x8x16xf32>
    %37 = stablehlo.reshape %36 : (tensor<2x8x16xf32>) -> tensor<2x8x2x8xf32>
    %38 = stablehlo.transpose %37, dims = [0, 2, 1, 3] : (tensor<2x8x2x8xf32>) -> tensor<2x2x8x8xf32>
    %39 = "stablehlo.slice"(%32) <{start_indices = array<i64: 0, 0, 32>, limit_indices = array<i64: 2, 8, 48>, strides = array<i64: 1, 1, 1>}> : (tensor<2x8x48xf32>) -> tensor<2x8x16xf32>
    %40 = stablehlo.reshape %39 : (tensor<2x8x16xf32>) -> tensor<2x8x2x8xf32>
    %41 = stablehlo.transpose %40, dims = [0, 2, 1, 3] : (tensor<2x8x2x8xf32>) -> tensor<2x2x8x8xf32>
    %42 = stablehlo.dot_general %35, %38, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [3] : (tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>) -> tensor<2x2x8x8xf32>
    %43 = stablehlo.constant dense<3.5355338e-01> : tensor<f32>
    %44 = stablehlo.broadcast_in_dim %43, dims = [] : (tensor<f32>) -> tensor<2x2x8x8xf32>
    %45 = stablehlo.multiply %42, %44 : tensor<2x2x8x8xf32>
    %46 = stablehlo.iota dim = 0 : tensor<8x8xi32>
    %47 = stablehlo.iota dim = 1 : tensor<8x8xi32>
    %48 = stablehlo.compare GT, %47, %46, SIGNED : (tensor<8x8xi32>, tensor<8x8xi32>) -> tensor<8x8xi1>
    %49 = stablehlo.constant dense<-1.0e+09> : tensor<f32>
    %50 = stablehlo.broadcast_in_dim %48, dims = [2, 3] : (tensor<8x8xi1>) -> tensor<2x2x8x8xi1>
    %51 = stablehlo.broadcast_in_dim %49, dims = [] : (tensor<f32>) -> tensor<2x2x8x8xf32>
    %52 = stablehlo.select %50, %51, %45 : (tensor<2x2x8x8xi1>, tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>) -> tensor<2x2x8x8xf32>
    %53 = stablehlo.constant dense<0xFF800000> : tensor<f32>
    %54 = stablehlo.reduce(%52 init: %53) applies stablehlo.maximum across dimensions = [3] : (tensor<2x2x8x8xf32>, tensor<f32>) -> tensor<2x2x8xf32>
    %55 = stablehlo.reshape %54 : (tensor<2x2x8xf32>) -> tensor<2x2x8x1xf32>
    %56 = stablehlo.broadcast_in_dim %55, dims = [0, 1, 2, 3] : (tensor<2x2x8x1xf32>) -> tensor<2x2x8x8xf32>
    %57 = stablehlo.subtract %52, %56 : tensor<2x2x8x8xf32>
    %58 = stablehlo.exponential %57 : tensor<2x2x8x8xf32>
    %59 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %60 = stablehlo.reduce(%58 init: %59) applies stablehlo.add across dimensions = [3] : (tensor<2x2x8x8xf32>, tensor<f32>) -> tensor<2x2x8xf32>
    %61 = stablehlo.reshape %60 : (tensor<2x2x8xf32>) -> tensor<2x2x8x1xf32>
    %62 = stablehlo.broadcast_in_dim %61, dims = [0, 1, 2, 3] : (tensor<2x2x8x1xf32>) -> tensor<2x2x8x8xf32>
    %63 = stablehlo.divide %58, %62 : tensor<2x2x8x8xf32>
    %64 = stablehlo.dot_general %63, %41, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2] : (tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>) -> tensor<2x2x8x8xf32>
    %65 = stablehlo.transpose %64, dims = [0, 2, 1, 3] : (tensor<2x2x8x8xf32>) -> tensor<2x8x2x8xf32>
    %66 = stablehlo.reshape %65 : (tensor<2x8x2x8xf32>) -> tensor<2x8x16xf32>
    %67 = stablehlo.dot_general %66, %attn.c_proj.w, contracting_dims = [2] x [0] : (tensor<2x8x16xf32>, tensor<16x16xf32>) -> tensor<2x8x16xf32>
    %68 = stablehlo.broadcast_in_dim %attn.c_proj.b, dims = [2] : (tensor<16xf32>) -> tensor<2x8x16xf32>
    %69 = stablehlo.add %67, %68 : tensor<2x8x16xf32>
    %70 = stablehlo.add %4, %69 : tensor<2x8x16xf32>
    %71 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %72 = stablehlo.reduce(%70 init: %71) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
    %73 = stablehlo.reshape %72 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %74 = stablehlo.constant dense<6.25e-02> : tensor<f32>
    %75 = stablehlo.broadcast_in_dim %74, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
    %76 = stablehlo.multiply %73, %75 : tensor<2x8x1xf32>
    %77 = stablehlo.broadcast_in_dim %76, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
    %78 = stablehlo.subtract %70, %77 : tensor<2x8x16xf32>
    %79 = stablehlo.multiply %78, %78 : tensor<2x8x16xf32>
    %80 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %81 = stablehlo.reduce(%79 init: %80) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
    %82 = stablehlo.reshape %81 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %83 = stablehlo.constant dense<6.25e-02> : tensor<f32>
    %84 = stablehlo.broadcast_in_dim %83, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
    %85 = stablehlo.multiply %82, %84 : tensor<2x8x1xf32>
    %86 = stablehlo.constant dense<1.0e-05> : tensor<f32>
    %87 = stablehlo.broadcast_in_dim %86, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
    %88 = stablehlo.add %85, %87 : tensor<2x8x1xf32>
    %89 = stablehlo.rsqrt %88 : tensor<2x8x1xf32>
    %90 = stablehlo.broadcast_in_dim %89, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
    %91 = stablehlo.multiply %78, %90 : tensor<2x8x16xf32>
    %92 = stablehlo.broadcast_in_dim %ln_2.scale, dims = [2] : (tensor<16xf32>) -> tensor<2x8x16xf32>
    %93 = stablehlo.multiply %91, %92 : tensor<2x8x16xf32>
    %94 = stablehlo.broadcast_in_dim %ln_2.bias, dims = [2] : (tensor<16xf32>) -> tensor<2x8x16xf32>
    %95 = stablehlo.add %93, %94 : tensor<2x8x16xf32>
    %96 = stablehlo.dot_general %95, %mlp.c_fc.w, contracting_dims = [2] x [0] : (tensor<2x8x16xf32>, tensor<16x64xf32>) -> tensor<2x8x64xf32>
    %97 = stablehlo.broadcast_in_dim %mlp.c_fc.b, dims = [2] : (tensor<64xf32>) -> tensor<2x8x64xf32>
    %98 = stablehlo.add %96, %97 : tensor<2x8x64xf32>
    %99 = stablehlo.multiply %98, %98 : tensor<2x8x64xf32>
    %100 = stablehlo.multiply %99, %98 : tensor<2x8x64xf32>
    %101 = stablehlo.constant dense<4.4715e-02> : tensor<f32>
    %102 = stablehlo.broadcast_in_dim %101, dims = [] : (tensor<f32>) -> tensor<2x8x64xf32>
    %103 = stablehlo.multiply %100, %102 : tensor<2x8x64xf32>
    %104 = stablehlo.add %98, %103 : tensor<2x8x64xf32>
    %105 = stablehlo.constant dense<7.978846e-01> : tensor<f32>
    %106 = stablehlo.broadcast_in_dim %105, dims = [] : (tensor<f32>) -> tensor<2x8x64xf32>
    %107 = stablehlo.multiply %104, %106 : tensor<2x8x64xf32>
    %108 = stablehlo.tanh %107 : tensor<2x8x64xf32>
    %109 = stablehlo.constant dense<1.0e+00> : tensor<f32>
    %110 = stablehlo.broadcast_in_dim %109, dims = [] : (tensor<f32>) -> tensor<2x8x64xf32>
    %111 = stablehlo.add %108, %110 : tensor<2x8x64xf32>
    %112 = stablehlo.constant dense<5.0e-01> : tensor<f32>
    %113 = stablehlo.broadcast_in_dim %112, dims = [] : (tensor<f32>) -> tensor<2x8x64xf32>
    %114 = stablehlo.multiply %98, %113 : tensor<2x8x64xf32>
    %115 = stablehlo.multiply %114, %111 : tensor<2x8x64xf32>
    %116 = stablehlo.dot_general %115, %mlp.c_proj.w, contracting_dims = [2] x [0] : (tensor<2x8x64xf32>, tensor<64x16xf32>) -> tensor<2x8x16xf32>
    %117 = stablehlo.broadcast_in_dim %mlp.c_proj.b, dims = [2] : (tensor<16xf32>) -> tensor<2x8x16xf32>
    %118 = stablehlo.add %116, %117 : tensor<2x8x16xf32>
    %119 = stablehlo.add %70, %118 : tensor<2x8x16xf32>
    %120 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %121 = stablehlo.reduce(%119 init: %120) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
    %122 = stablehlo.reshape %121 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %123 = stablehlo.constant dense<6.25e-02> : tensor<f32>
    %124 = stablehlo.broadcast_in_dim %123, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
    %125 = stablehlo.multiply %122, %124 : tensor<2x8x1xf32>
    %126 = stablehlo.broadcast_in_dim %125, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
    %127 = stablehlo.subtract %119, %126 : tensor<2x8x16xf32>
    %128 = stablehlo.multiply %127, %127 : tensor<2x8x16xf32>
    %129 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %130 = stablehlo.reduce(%128 init: %129) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
    %131 = stablehlo.reshape %130 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %132 = stablehlo.constant dense<6.25e-02> : tensor<f32>
    %133 = stablehlo.broadcast_in_dim %132, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
    %134 = stablehlo.multiply %131, %133 : tensor<2x8x1xf32>
    %135 = stablehlo.constant dense<1.0e-05> : tensor<f32>
    %136 = stablehlo.broadcast_in_dim %135, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
    %137 = stablehlo.add %134, %136 : tensor<2x8x1xf32>
    %138 = stablehlo.rsqrt %137 : tensor<2x8x1xf32>
    %139 = stablehlo.broadcast_in_dim %138, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
    %140 = stablehlo.multiply %127, %139 : tensor<2x8x16xf32>
    %141 = stablehlo.broadcast_in_dim %ln_f.scale, dims = [2] : (tensor<16xf32>) -> tensor<2x8x16xf32>
    %142 = stablehlo.multiply %140, %141 : tensor<2x8x16xf32>
    %143 = stablehlo.broadcast_in_dim %ln_f.bias, dims = [2] : (tensor<16xf32>) -> tensor<2x8x16xf32>
    %144 = stablehlo.add %142, %143 : tensor<2x8x16xf32>
    %logits = stablehlo.dot_general %144, %wte, contracting_dims = [2] x [1] : (tensor<2x8x16xf32>, tensor<32x16xf32>) -> tensor<2x8x32xf32>
    %145 = stablehlo.constant dense<0xFF800000> : tensor<f32>
    %146 = stablehlo.reduce(%logits init: %145) applies stablehlo.maximum across dimensions = [2] : (tensor<2x8x32xf32>, tensor<f32>) -> tensor<2x8xf32>
    %147 = stablehlo.reshape %146 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %148 = stablehlo.broadcast_in_dim %147, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x32xf32>
    %149 = stablehlo.subtract %logits, %148 : tensor<2x8x32xf32>
    %150 = stablehlo.exponential %149 : tensor<2x8x32xf32>
    %151 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %152 = stablehlo.reduce(%150 init: %151) applies stablehlo.add across dimensions = [2] : (tensor<2x8x32xf32>, tensor<f32>) -> tensor<2x8xf32>
    %153 = stablehlo.reshape %152 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %154 = stablehlo.log %153 : tensor<2x8x1xf32>
    %155 = stablehlo.broadcast_in_dim %154, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x32xf32>
    %156 = stablehlo.subtract %149, %155 : tensor<2x8x32xf32>
    %157 = stablehlo.iota dim = 2 : tensor<2x8x32xi32>
    %158 = stablehlo.reshape %targets : (tensor<2x8xi32>) -> tensor<2x8x1xi32>
    %159 = stablehlo.broadcast_in_dim %158, dims = [0, 1, 2] : (tensor<2x8x1xi32>) -> tensor<2x8x32xi32>
    %160 = stablehlo.compare EQ, %157, %159, SIGNED : (tensor<2x8x32xi32>, tensor<2x8x32xi32>) -> tensor<2x8x32xi1>
    %161 = stablehlo.convert %160 : (tensor<2x8x32xi1>) -> tensor<2x8x32xf32>
    %162 = stablehlo.multiply %156, %161 : tensor<2x8x32xf32>
    %163 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %164 = stablehlo.reduce(%162 init: %163) applies stablehlo.add across dimensions = [0, 1, 2] : (tensor<2x8x32xf32>, tensor<f32>) -> tensor<f32>
    %165 = stablehlo.constant dense<-6.25e-02> : tensor<f32>
    %loss = stablehlo.multiply %164, %165 : tensor<f32>
    %166 = stablehlo.constant dense<1.0e+00> : tensor<f32>
    %167 = stablehlo.multiply %166, %165 : tensor<f32>
    %168 = stablehlo.broadcast_in_dim %167, dims = [] : (tensor<f32>) -> tensor<2x8x32xf32>
    %169 = stablehlo.multiply %168, %161 : tensor<2x8x32xf32>
    %170 = stablehlo.negate %169 : tensor<2x8x32xf32>
    %171 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %172 = stablehlo.reduce(%170 init: %171) applies stablehlo.add across dimensions = [2] : (tensor<2x8x32xf32>, tensor<f32>) -> tensor<2x8xf32>
    %173 = stablehlo.reshape %172 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %174 = stablehlo.divide %173, %153 : tensor<2x8x1xf32>
    %175 = stablehlo.reshape %174 : (tensor<2x8x1xf32>) -> tensor<2x8xf32>
    %176 = stablehlo.broadcast_in_dim %175, dims = [0, 1] : (tensor<2x8xf32>) -> tensor<2x8x32xf32>
    %177 = stablehlo.multiply %176, %150 : tensor<2x8x32xf32>
    %178 = stablehlo.add %169, %177 : tensor<2x8x32xf32>
    %179 = stablehlo.dot_general %178, %wte, contracting_dims = [2] x [0] : (tensor<2x8x32xf32>, tensor<32x16xf32>) -> tensor<2x8x16xf32>
    %180 = stablehlo.dot_general %178, %144, contracting_dims = [0, 1] x [0, 1] : (tensor<2x8x32xf32>, tensor<2x8x16xf32>) -> tensor<32x16xf32>
    %181 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.ln_f.bias = stablehlo.reduce(%179 init: %181) applies stablehlo.add across dimensions = [0, 1] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<16xf32>
    %182 = stablehlo.multiply %179, %141 : tensor<2x8x16xf32>
    %183 = stablehlo.multiply %179, %140 : tensor<2x8x16xf32>
    %184 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.ln_f.scale = stablehlo.reduce(%183 init: %184) applies stablehlo.add across dimensions = [0, 1] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<16xf32>
    %185 = stablehlo.multiply %182, %139 : tensor<2x8x16xf32>
    %186 = stablehlo.multiply %182, %127 : tensor<2x8x16xf32>
    %187 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %188 = stablehlo.reduce(%186 init: %187) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
    %189 = stablehlo.reshape %188 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %190 = stablehlo.divide %138, %137 : tensor<2x8x1xf32>
    %191 = stablehlo.constant dense<-5.0e-01> : tensor<f32>
    %192 = stablehlo.broadcast_in_dim %191, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
    %193 = stablehlo.multiply %190, %192 : tensor<2x8x1xf32>
    %194 = stablehlo.multiply %189, %193 : tensor<2x8x1xf32>
    %195 = stablehlo.multiply %194, %133 : tensor<2x8x1xf32>
    %196 = stablehlo.reshape %195 : (tensor<2x8x1xf32>) -> tensor<2x8xf32>
    %197 = stablehlo.broadcast_in_dim %196, dims = [0, 1] : (tensor<2x8xf32>) -> tensor<2x8x16xf32>
    %198 = stablehlo.multiply %197, %127 : tensor<2x8x16xf32>
    %199 = stablehlo.multiply %197, %127 : tensor<2x8x16xf32>
    %200 = stablehlo.add %185, %198 : tensor<2x8x16xf32>
    %201 = stablehlo.add %200, %199 : tensor<2x8x16xf32>
    %202 = stablehlo.negate %201 : tensor<2x8x16xf32>
    %203 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %204 = stablehlo.reduce(%202 init: %203) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
    %205 = stablehlo.reshape %204 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %206 = stablehlo.multiply %205, %124 : tensor<2x8x1xf32>
    %207 = stablehlo.reshape %206 : (tensor<2x8x1xf32>) -> tensor<2x8xf32>
    %208 = stablehlo.broadcast_in_dim %207, dims = [0, 1] : (tensor<2x8xf32>) -> tensor<2x8x16xf32>
    %209 = stablehlo.add %201, %208 : tensor<2x8x16xf32>
    %210 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.mlp.c_proj.b = stablehlo.reduce(%209 init: %210) applies stablehlo.add across dimensions = [0, 1] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<16xf32>
    %211 = stablehlo.dot_general %209, %mlp.c_proj.w, contracting_dims = [2] x [1] : (tensor<2x8x16xf32>, tensor<64x16xf32>) -> tensor<2x8x64xf32>
    %212 = stablehlo.dot_general %209, %115, contracting_dims = [0, 1] x [0, 1] : (tensor<2x8x16xf32>, tensor<2x8x64xf32>) -> tensor<16x64xf32>
    %grad.mlp.c_proj.w = stablehlo.transpose %212, dims = [1, 0] : (tensor<16x64xf32>) -> tensor<64x16xf32>
    %213 = stablehlo.multiply %211, %111 : tensor<2x8x64xf32>
    %214 = stablehlo.multiply %211, %114 : tensor<2x8x64xf32>
    %215 = stablehlo.multiply %213, %113 : tensor<2x8x64xf32>
    %216 = stablehlo.multiply %108, %108 : tensor<2x8x64xf32>
    %217 = stablehlo.constant dense<1.0e+00> : tensor<f32>
    %218 = stablehlo.broadcast_in_dim %217, dims = [] : (tensor<f32>) -> tensor<2x8x64xf32>
    %219 = stablehlo.subtract %218, %216 : tensor<2x8x64xf32>
    %220 = stablehlo.multiply %214, %219 : tensor<2x8x64xf32>
    %221 = stablehlo.multiply %220, %106 : tensor<2x8x64xf32>
    %222 = stablehlo.add %215, %221 : tensor<2x8x64xf32>
    %223 = stablehlo.multiply %221, %102 : tensor<2x8x64xf32>
    %224 = stablehlo.multiply %223, %98 : tensor<2x8x64xf32>
    %225 = stablehlo.multiply %223, %99 : tensor<2x8x64xf32>
    %226 = stablehlo.add %222, %225 : tensor<2x8x64xf32>
    %227 = stablehlo.multiply %224, %98 : tensor<2x8x64xf32>
    %228 = stablehlo.multiply %224, %98 : tensor<2x8x64xf32>
    %229 = stablehlo.add %226, %227 : tensor<2x8x64xf32>
    %230 = stablehlo.add %229, %228 : tensor<2x8x64xf32>
    %231 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.mlp.c_fc.b = stablehlo.reduce(%230 init: %231) applies stablehlo.add across dimensions = [0, 1] : (tensor<2x8x64xf32>, tensor<f32>) -> tensor<64xf32>
    %232 = stablehlo.dot_general %230, %mlp.c_fc.w, contracting_dims = [2] x [1] : (tensor<2x8x64xf32>, tensor<16x64xf32>) -> tensor<2x8x16xf32>
    %233 = stablehlo.dot_general %230, %95, contracting_dims = [0, 1] x [0, 1] : (tensor<2x8x64xf32>, tensor<2x8x16xf32>) -> tensor<64x16xf32>
    %grad.mlp.c_fc.w = stablehlo.transpose %233, dims = [1, 0] : (tensor<64x16xf32>) -> tensor<16x64xf32>
    %234 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.ln_2.bias = stablehlo.reduce(%232 init: %234) applies stablehlo.add across dimensions = [0, 1] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<16xf32>
    %235 = stablehlo.multiply %232, %92 : tensor<2x8x16xf32>
    %236 = stablehlo.multiply %232, %91 : tensor<2x8x16xf32>
    %237 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.ln_2.scale = stablehlo.reduce(%236 init: %237) applies stablehlo.add across dimensions = [0, 1] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<16xf32>
    %238 = stablehlo.multiply %235, %90 : tensor<2x8x16xf32>
    %239 = stablehlo.multiply %235, %78 : tensor<2x8x16xf32>
    %240 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %241 = stablehlo.reduce(%239 init: %240) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
    %242 = stablehlo.reshape %241 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %243 = stablehlo.divide %89, %88 : tensor<2x8x1xf32>
    %244 = stablehlo.constant dense<-5.0e-01> : tensor<f32>
    %245 = stablehlo.broadcast_in_dim %244, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
    %246 = stablehlo.multiply %243, %245 : tensor<2x8x1xf32>
    %247 = stablehlo.multiply %242, %246 : tensor<2x8x1xf32>
    %248 = stablehlo.multiply %247, %84 : tensor<2x8x1xf32>
    %249 = stablehlo.reshape %248 : (tensor<2x8x1xf32>) -> tensor<2x8xf32>
    %250 = stablehlo.broadcast_in_dim %249, dims = [0, 1] : (tensor<2x8xf32>) -> tensor<2x8x16xf32>
    %251 = stablehlo.multiply %250, %78 : tensor<2x8x16xf32>
    %252 = stablehlo.multiply %250, %78 : tensor<2x8x16xf32>
    %253 = stablehlo.add %238, %251 : tensor<2x8x16xf32>
    %254 = stablehlo.add %253, %252 : tensor<2x8x16xf32>
    %255 = stablehlo.negate %254 : tensor<2x8x16xf32>
    %256 = stablehlo.add %209, %254 : tensor<2x8x16xf32>
    %257 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %258 = stablehlo.reduce(%255 init: %257) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
    %259 = stablehlo.reshape %258 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %260 = stablehlo.multiply %259, %75 : tensor<2x8x1xf32>
    %261 = stablehlo.reshape %260 : (tensor<2x8x1xf32>) -> tensor<2x8xf32>
    %262 = stablehlo.broadcast_in_dim %261, dims = [0, 1] : (tensor<2x8xf32>) -> tensor<2x8x16xf32>
    %263 = stablehlo.add %256, %262 : tensor<2x8x16xf32>
    %264 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.attn.c_proj.b = stablehlo.reduce(%263 init: %264) applies stablehlo.add across dimensions = [0, 1] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<16xf32>
    %265 = stablehlo.dot_general %263, %attn.c_proj.w, contracting_dims = [2] x [1] : (tensor<2x8x16xf32>, tensor<16x16xf32>) -> tensor<2x8x16xf32>
    %266 = stablehlo.dot_general %263, %66, contracting_dims = [0, 1] x [0, 1] : (tensor<2x8x16xf32>, tensor<2x8x16xf32>) -> tensor<16x16xf32>
    %grad.attn.c_proj.w = stablehlo.transpose %266, dims = [1, 0] : (tensor<16x16xf32>) -> tensor<16x16xf32>
    %267 = stablehlo.reshape %265 : (tensor<2x8x16xf32>) -> tensor<2x8x2x8xf32>
    %268 = stablehlo.transpose %267, dims = [0, 2, 1, 3] : (tensor<2x8x2x8xf32>) -> tensor<2x2x8x8xf32>
    %269 = stablehlo.dot_general %268, %41, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [3] : (tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>) -> tensor<2x2x8x8xf32>
    %270 = stablehlo.dot_general %268, %63, batching_dims = [0, 1] x [0, 1], contracting_dims = [2] x [2] : (tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>) -> tensor<2x2x8x8xf32>
    %271 = stablehlo.transpose %270, dims = [0, 1, 3, 2] : (tensor<2x2x8x8xf32>) -> tensor<2x2x8x8xf32>
    %272 = stablehlo.divide %269, %62 : tensor<2x2x8x8xf32>
    %273 = stablehlo.multiply %269, %63 : tensor<2x2x8x8xf32>
    %274 = stablehlo.divide %273, %62 : tensor<2x2x8x8xf32>
    %275 = stablehlo.negate %274 : tensor<2x2x8x8xf32>
    %276 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %277 = stablehlo.reduce(%275 init: %276) applies stablehlo.add across dimensions = [3] : (tensor<2x2x8x8xf32>, tensor<f32>) -> tensor<2x2x8xf32>
    %278 = stablehlo.reshape %277 : (tensor<2x2x8xf32>) -> tensor<2x2x8x1xf32>
    %279 = stablehlo.reshape %278 : (tensor<2x2x8x1xf32>) -> tensor<2x2x8xf32>
    %280 = stablehlo.broadcast_in_dim %279, dims = [0, 1, 2] : (tensor<2x2x8xf32>) -> tensor<2x2x8x8xf32>
    %281 = stablehlo.add %272, %280 : tensor<2x2x8x8xf32>
    %282 = stablehlo.multiply %281, %58 : tensor<2x2x8x8xf32>
    %283 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %284 = stablehlo.broadcast_in_dim %283, dims = [] : (tensor<f32>) -> tensor<2x2x8x8xf32>
    %285 = stablehlo.select %50, %284, %282 : (tensor<2x2x8x8xi1>, tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>) -> tensor<2x2x8x8xf32>
    %286 = stablehlo.multiply %285, %44 : tensor<2x2x8x8xf32>
    %287 = stablehlo.dot_general %286, %38, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2] : (tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>) -> tensor<2x2x8x8xf32>
    %288 = stablehlo.dot_general %286, %35, batching_dims = [0, 1] x [0, 1], contracting_dims = [2] x [2] : (tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>) -> tensor<2x2x8x8xf32>
    %289 = stablehlo.transpose %271, dims = [0, 2, 1, 3] : (tensor<2x2x8x8xf32>) -> tensor<2x8x2x8xf32>
    %290 = stablehlo.reshape %289 : (tensor<2x8x2x8xf32>) -> tensor<2x8x16xf32>
    %291 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %292 = stablehlo.pad %290, %291, low = [0, 0, 32], high = [0, 0, 0], interior = [0, 0, 0] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8x48xf32>
    %293 = stablehlo.transpose %288, dims = [0, 2, 1, 3] : (tensor<2x2x8x8xf32>) -> tensor<2x8x2x8xf32>
    %294 = stablehlo.reshape %293 : (tensor<2x8x2x8xf32>) -> tensor<2x8x16xf32>
    %295 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %296 = stablehlo.pad %294, %295, low = [0, 0, 16], high = [0, 0, 16], interior = [0, 0, 0] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8x48xf32>
    %297 = stablehlo.add %292, %296 : tensor<2x8x48xf32>
    %298 = stablehlo.transpose %287, dims = [0, 2, 1, 3] : (tensor<2x2x8x8xf32>) -> tensor<2x8x2x8xf32>
    %299 = stablehlo.reshape %298 : (tensor<2x8x2x8xf32>) -> tensor<2x8x16xf32>
    %300 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %301 = stablehlo.pad %299, %300, low = [0, 0, 0], high = [0, 0, 32], interior = [0, 0, 0] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8x48xf32>
    %302 = stablehlo.add %297, %301 : tensor<2x8x48xf32>
    %303 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.attn.c_attn.b = stablehlo.reduce(%302 init: %303) applies stablehlo.add across dimensions = [0, 1] : (tensor<2x8x48xf32>, tensor<f32>) -> tensor<48xf32>
    %304 = stablehlo.dot_general %302, %attn.c_attn.w, contracting_dims = [2] x [1] : (tensor<2x8x48xf32>, tensor<16x48xf32>) -> tensor<2x8x16xf32>
    %305 = stablehlo.dot_general %302, %29, contracting_dims = [0, 1] x [0, 1] : (tensor<2x8x48xf32>, tensor<2x8x16xf32>) -> tensor<48x16xf32>
    %grad.attn.c_attn.w = stablehlo.transpose %305, dims = [1, 0] : (tensor<48x16xf32>) -> tensor<16x48xf32>
    %306 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.ln_1.bias = stablehlo.reduce(%304 init: %306) applies stablehlo.add across dimensions = [0, 1] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<16xf32>
    %307 = stablehlo.multiply %304, %26 : tensor<2x8x16xf32>
    %308 = stablehlo.multiply %304, %25 : tensor<2x8x16xf32>
    %309 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.ln_1.scale = stablehlo.reduce(%308 init: %309) applies stablehlo.add across dimensions = [0, 1] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<16xf32>
    %310 = stablehlo.multiply %307, %24 : tensor<2x8x16xf32>
    %311 = stablehlo.multiply %307, %12 : tensor<2x8x16xf32>
    %312 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %313 = stablehlo.reduce(%311 init: %312) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
    %314 = stablehlo.reshape %313 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %315 = stablehlo.divide %23, %22 : tensor<2x8x1xf32>
    %316 = stablehlo.constant dense<-5.0e-01> : tensor<f32>
    %317 = stablehlo.broadcast_in_dim %316, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
    %318 = stablehlo.multiply %315, %317 : tensor<2x8x1xf32>
    %319 = stablehlo.multiply %314, %318 : tensor<2x8x1xf32>
    %320 = stablehlo.multiply %319, %18 : tensor<2x8x1xf32>
    %321 = stablehlo.reshape %320 : (tensor<2x8x1xf32>) -> tensor<2x8xf32>
    %322 = stablehlo.broadcast_in_dim %321, dims = [0, 1] : (tensor<2x8xf32>) -> tensor<2x8x16xf32>
    %323 = stablehlo.multiply %322, %12 : tensor<2x8x16xf32>
    %324 = stablehlo.multiply %322, %12 : tensor<2x8x16xf32>
    %325 = stablehlo.add %310, %323 : tensor<2x8x16xf32>
    %326 = stablehlo.add %325, %324 : tensor<2x8x16xf32>
    %327 = stablehlo.negate %326 : tensor<2x8x16xf32>
    %328 = stablehlo.add %263, %326 : tensor<2x8x16xf32>
    %329 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %330 = stablehlo.reduce(%327 init: %329) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
    %331 = stablehlo.reshape %330 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
    %332 = stablehlo.multiply %331, %9 : tensor<2x8x1xf32>
    %333 = stablehlo.reshape %332 : (tensor<2x8x1xf32>) -> tensor<2x8xf32>
    %334 = stablehlo.broadcast_in_dim %333, dims = [0, 1] : (tensor<2x8xf32>) -> tensor<2x8x16xf32>
    %335 = stablehlo.add %328, %334 : tensor<2x8x16xf32>
    %336 = stablehlo.constant dense<0.0e+00> : tensor<f32>
    %grad.wpe = stablehlo.reduce(%335 init: %336) applies stablehlo.add across dimensions = [0] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<8x16xf32>
    %337 = stablehlo.reshape %335 : (tensor<2x8x16xf32>) -> tensor<16x16xf32>
    %338 = stablehlo.constant dense<0.0e+00> : tensor<32x16xf32>
    %342 = "stablehlo.scatter"(%338, %0, %337) <{indices_are_sorted = false, scatter_dimension_numbers = #stablehlo.scatter<update_window_dims = [1], inserted_window_dims = [0], scatter_dims_to_operand_dims = [0], index_vector_dim = 1>, unique_indices = false}> ({
      ^bb0(%339: tensor<f32>, %340: tensor<f32>):
        %341 = stablehlo.add %339, %340 : tensor<f32>
        stablehlo.return %341 : tensor<f32>
    }) : (tensor<32x16xf32>, tensor<16x1xi32>, tensor<16x16xf32>) -> tensor<32x16xf32>
    %grad.wte = stablehlo.add %180, %342 : tensor<32x16xf32>
    return %loss, %grad.wte, %grad.wpe, %grad.ln_1.scale, %grad.ln_1.bias, %grad.attn.c_attn.w, %grad.attn.c_attn.b, %grad.attn.c_proj.w, %grad.attn.c_proj.b, %grad.ln_2.scale, %grad.ln_2.bias, %grad.mlp.c_fc.w, %grad.mlp.c_fc.b, %grad.mlp.c_proj.w, %grad.mlp.c_proj.b, %grad.ln_f.scale, %grad.ln_f.bias : tensor<f32>, tensor<32x16xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16x48xf32>, tensor<48xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16x64xf32>, tensor<64xf32>, tensor<64x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>
  }
}
