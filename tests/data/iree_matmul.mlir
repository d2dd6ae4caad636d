func.func @matmul_64x128x32(%lhs: tensor<64x32xf32>, %rhs: tensor<32x128xf32>) -> tensor<64x128xf32> {
  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<64x128xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<64x128xf32>) -> tensor<64x128xf32>
  %out = linalg.matmul ins(%lhs, %rhs : tensor<64x32xf32>, tensor<32x128xf32>) outs(%acc : tensor<64x128xf32>) -> tensor<64x128xf32>
  return %out : tensor<64x128xf32>
}
