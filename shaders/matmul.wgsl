// matmul.wgsl: one tiled matrix product C[M][N] with a fused epilogue.
//
// Rust builds the source as common.wgsl + generated consts + this file. The generated part
// (src/gpu/kernels/matmul/source.rs, `shader_source`) defines:
//   TILE_M, TILE_N, TILE_K  the block of C one workgroup computes, and the K step
//   REG_M, REG_N            the register block of C one thread computes
//   A_KM                    A is stored [K][M] (Trans::TN) instead of [M][K]
//   B_NK                    B is stored [N][K] (Trans::NT) instead of [K][N]
//   EPILOGUE, STORE_GRAD    what is done with C (below)
//   binding 4 `extra` and `store_extra(i, v)`: `extra` is read_write only for the SGD epilogue
//   that stores the gradient, so the other epilogues bind their operand read-only.
// Being consts, the layout and epilogue branches fold away when the pipeline is compiled.
//
// Shapes (row-major):
//   NT: A [M][K], B [N][K], C = A·Bᵀ   forward, Z = X·Wᵀ with W [out][in]
//   NN: A [M][K], B [K][N], C = A·B    input gradient, dX = dZ·W
//   TN: A [K][M], B [K][N], C = Aᵀ·B   weight gradient, dW = dZᵀ·X
// Epilogues:
//   0 store:    out[m][n] = C
//   1 bias_act: out[m][n] = act_forward(act, C + extra[n])                  extra = bias [N]
//   2 act_grad: out[m][n] = C · act_grad_from_output(act, extra[m][n])      extra = activations [M][N]
//   3 sgd:      out[m][n] -= lr · C (out = W [M][N]); if STORE_GRAD, extra[m][n] = C
//   4 optim:    out[m][n] = the optimizer rule on W with gradient C (generated `optim_store`)
//
// Work split: workgroup (x, y) owns the TILE_M×TILE_N block of C at rows y·TILE_M and columns
// x·TILE_N. Its WG_Y×WG_X threads each accumulate REG_M×REG_N outputs in registers, strided:
// thread (tx, ty) owns rows ty + i·WG_Y and columns tx + j·WG_X, so neighbouring threads touch
// neighbouring columns (coalesced stores, no shared-memory bank conflicts on reads).
// K is walked in steps of TILE_K: the workgroup stages a TILE_K×TILE_M slice of A and a
// TILE_K×TILE_N slice of B in shared memory, k-major, then each thread does REG_M·REG_N FMAs per
// REG_M + REG_N shared loads.
// Bounds: elements outside M, N or K are loaded as zero and their outputs are not stored. No
// thread returns early, because every thread must reach every barrier.

// MatmulParams (the uniforms) and StepUniform are generated from src/gpu/kernels/.

// Bindings, in order:
@group(0) @binding(0) var<uniform> params: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;         // [M][K], or [K][M] if A_KM
@group(0) @binding(2) var<storage, read> b: array<f32>;         // [K][N], or [N][K] if B_NK
@group(0) @binding(3) var<storage, read_write> out: array<f32>; // [M][N]: C, or W for sgd
// @binding(4) extra: generated (bias [N], activations [M][N], or gradient [M][N]).
// @binding(5) step: generated (the learning rate); 6 to 9: the fused optimizer's operands.

const WG_X: u32 = TILE_N / REG_N;
const WG_Y: u32 = TILE_M / REG_M;
const THREADS: u32 = WG_X * WG_Y;

// Shared tiles, k-major: a_tile[kk * A_STRIDE + r] holds A(row0 + r, k0 + kk). The +1 pad
// spreads the k-fastest writes of the [M][K] / [N][K] layouts over all banks.
const A_STRIDE: u32 = TILE_M + 1u;
const B_STRIDE: u32 = TILE_N + 1u;
var<workgroup> a_tile: array<f32, TILE_K * A_STRIDE>;
var<workgroup> b_tile: array<f32, TILE_K * B_STRIDE>;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) lidx: u32,
) {
    let M = params.m;
    let K = params.k;
    let N = params.n;
    let row0 = wg.y * TILE_M;
    let col0 = wg.x * TILE_N;
    let tx = lid.x;
    let ty = lid.y;

    var acc: array<array<f32, REG_N>, REG_M>; // zero-initialised
    var a_reg: array<f32, REG_M>;
    var b_reg: array<f32, REG_N>;

    let k_tiles = (K + TILE_K - 1u) / TILE_K; // uniform: every thread runs every step
    for (var t = 0u; t < k_tiles; t++) {
        let k0 = t * TILE_K;

        // ---------------------------------------------------------------- LOAD
        // Consecutive threads read consecutive addresses of the global layout.
        for (var i = lidx; i < TILE_M * TILE_K; i += THREADS) {
            var r: u32;
            var kk: u32;
            if A_KM {
                r = i % TILE_M;
                kk = i / TILE_M;
            } else {
                kk = i % TILE_K;
                r = i / TILE_K;
            }
            let gr = row0 + r;
            let gk = k0 + kk;
            var v = 0.0;
            if gr < M && gk < K {
                if A_KM {
                    v = a[gk * M + gr];
                } else {
                    v = a[gr * K + gk];
                }
            }
            a_tile[kk * A_STRIDE + r] = v;
        }
        for (var i = lidx; i < TILE_N * TILE_K; i += THREADS) {
            var c: u32;
            var kk: u32;
            if B_NK {
                kk = i % TILE_K;
                c = i / TILE_K;
            } else {
                c = i % TILE_N;
                kk = i / TILE_N;
            }
            let gc = col0 + c;
            let gk = k0 + kk;
            var v = 0.0;
            if gc < N && gk < K {
                if B_NK {
                    v = b[gc * K + gk];
                } else {
                    v = b[gk * N + gc];
                }
            }
            b_tile[kk * B_STRIDE + c] = v;
        }
        workgroupBarrier(); // tiles complete before anyone reads them

        // ---------------------------------------------------------------- COMPUTE
        for (var kk = 0u; kk < TILE_K; kk++) {
            for (var i = 0u; i < REG_M; i++) {
                a_reg[i] = a_tile[kk * A_STRIDE + ty + i * WG_Y];
            }
            for (var j = 0u; j < REG_N; j++) {
                b_reg[j] = b_tile[kk * B_STRIDE + tx + j * WG_X];
            }
            for (var i = 0u; i < REG_M; i++) {
                for (var j = 0u; j < REG_N; j++) {
                    acc[i][j] = fma(a_reg[i], b_reg[j], acc[i][j]);
                }
            }
        }
        workgroupBarrier(); // everyone done reading before the next LOAD overwrites the tiles
    }

    // -------------------------------------------------------------------- STORE
    for (var i = 0u; i < REG_M; i++) {
        let r = row0 + ty + i * WG_Y;
        for (var j = 0u; j < REG_N; j++) {
            let c = col0 + tx + j * WG_X;
            if r < M && c < N {
                let idx = r * N + c;
                let v = acc[i][j];
                if EPILOGUE == EPILOGUE_STORE {
                    out[idx] = v;
                } else if EPILOGUE == EPILOGUE_BIAS_ACT {
                    out[idx] = act_forward(params.act, v + extra[c]);
                } else if EPILOGUE == EPILOGUE_ACT_GRAD {
                    out[idx] = v * act_grad_from_output(params.act, extra[idx]);
                } else if EPILOGUE == EPILOGUE_OPTIM {
                    optim_store(idx, v);
                } else {
                    out[idx] = out[idx] - step.lr * v;
                    if STORE_GRAD {
                        store_extra(idx, v);
                    }
                }
            }
        }
    }
}
