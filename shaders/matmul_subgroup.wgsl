// matmul_subgroup.wgsl: the matmul family for CPU-type adapters (lavapipe), without shared memory.
// Same products, epilogues, bindings and Params as matmul.wgsl; another work split.
//
// Why another kernel: lavapipe runs a workgroup as SIMD vectors of 8 invocations (one per lane),
// and a load whose address differs per lane becomes a loop of 8 bounds-checked scalar loads,
// whether the address is "uniform" or not once it depends on the K loop. Shared-memory tiling only
// adds such loads, stores and barriers; what pays is FMAs per load. So one workgroup is one
// 8-lane subgroup that owns a TILE_M×TILE_N block of C in registers and loads every element of A
// and B it needs exactly once:
//   - lane l owns the columns c0 + 32·j + 4·l + (0..3) for j < REG_N/4: one vec4 of C per row and
//     j, so B is read as vec4 rows where alignment allows (B [K][N] with N % 4 == 0, or along K for
//     B [N][K] with K % 4 == 0);
//   - A is shared through the subgroup: per block of 8 k-steps, lane l loads A(r0 + i, k0 + l) for
//     each of the TILE_M rows (as vec4 of 4 rows where A is [K][M] with M % 4 == 0), and
//     subgroupBroadcast(x, kk) hands A(r0 + i, k0 + kk) to every lane. Per 8 k-steps a lane then
//     does 8·TILE_M·REG_N/4 vec4 FMAs (1024 scalar ones at 32×32) for TILE_M loads of A (TILE_M/4
//     as vec4) and 8·REG_N/4 vec4 loads of B, and each element of A and B is loaded once.
//   - without SUBGROUP (the GL backend) the same kernel reads A directly, each lane at the same
//     address; that costs 8 scalar loads per element of A on lavapipe but still beats the tiles.
// Real GPUs want matmul.wgsl instead (coalesced loads through shared memory):
// src/gpu/kernels/matmul/mod.rs chooses the kernel from the adapter.
//
// Template: src/gpu/template.rs expands this file before compiling it, because lavapipe only
// keeps arrays in registers when every index is a constant (a loop over an array spills it to memory
// and runs 2-3× slower) and naga wants subgroupBroadcast's lane as a constant:
//   // @for v in 0..N  ... // @end   repeats the lines for v = 0..N-1 (N: a number or TILE_M,
//                                     REG_N, COLS (= REG_N/4), QUADS (= TILE_M/4));
//   ${expr} in those lines becomes a number (expr: integers and loop variables with + - * / %);
//   // @if COND ... // @else ... // @end   keeps one branch; COND is flags joined by && or ||,
//                                     each maybe negated by !. Flags: SUBGROUP, the layout (A_KM,
//                                     B_NK), the alignment (A_VEC4, B_VEC4), the epilogue (STORE,
//                                     BIAS_ACT, ACT_GRAD, SGD, STORE_GRAD, OPTIM).
// Expanding only the code a specialisation runs keeps the source, and so the shader compile
// (naga, then lavapipe's LLVM at pipeline creation and first dispatch), small.
// The generated part (src/gpu/kernels/matmul/source.rs, `shader_source`) defines:
//   TILE_M, TILE_N, TILE_K, REG_M, REG_N   TILE_M = REG_M rows, TILE_N = 8·REG_N columns, TILE_K = 8
//   A_KM, B_NK, EPILOGUE, STORE_GRAD        as in matmul.wgsl (A_KM and B_NK also as flags)
//   A_VEC4, B_VEC4   A / B are bound as array<vec4<f32>> (rows 16-byte aligned), else array<f32>
//                    (also flags)
//   load_a(i), load_a4(i), load_b(i), load_b4(i)   element i / vec4 i of A and B (a vec4 loader of
//                    a scalar binding is never called, and the reverse)
//   binding 4 `extra` and `store_extra(i, v)`.
//
// Shapes (row-major), epilogues: see matmul.wgsl.
// Bounds: rows and columns past M and N are clamped to the last one when loading (their results
// are computed and dropped); k-steps past K load zero in both A and B (so a non-finite element
// cannot come back as inf·0 = NaN); only in-range outputs are stored. There is no shared memory
// and no barrier.

// MatmulParams (the uniforms) and StepUniform are generated from src/gpu/kernels/.

// Bindings, in order:
@group(0) @binding(0) var<uniform> params: MatmulParams;
// @binding(1) a: generated, [M][K], or [K][M] if A_KM
// @binding(2) b: generated, [K][N], or [N][K] if B_NK
@group(0) @binding(3) var<storage, read_write> out: array<f32>; // [M][N]: C, or W for sgd
// @binding(4) extra: generated (bias [N], activations [M][N], or gradient [M][N]).
// @binding(5) step: generated (the learning rate); 6 to 9: the fused optimizer's operands.

// Vec4 column groups per lane.
const COLS: u32 = REG_N / 4u;

// The epilogue for C[r][c + q] = v[q], q < 4 (a lane's four columns of one row; r < M, columns
// from N on are not stored). `bias` holds bias[c + q] for bias_act. Bias_act and act_grad store
// z = C + bias, or C, here and apply the activation in a loop afterwards (see main).
fn finish(r: u32, c: u32, v: vec4<f32>, bias: vec4<f32>) {
    let N = params.n;
    let row = r * N;
// @if OPTIM
    // The optimizer rule on W with gradient C, element by element (generated `optim_store`).
    // @for q in 0..4
    if c + ${q}u < N {
        optim_store(row + c + ${q}u, v[${q}]);
    }
    // @end
// @else
// @if SGD
    // W is read at columns clamped to the row, so every read is in bounds.
    let last = N - 1u;
    let w = vec4(out[row + min(c, last)], out[row + min(c + 1u, last)],
                 out[row + min(c + 2u, last)], out[row + min(c + 3u, last)]);
    let y = w - step.lr * v;
// @else
// @if BIAS_ACT
    let y = v + bias;
// @else
    let y = v;
// @end
// @end
    // @for q in 0..4
    if c + ${q}u < N {
        out[row + c + ${q}u] = y[${q}];
// @if STORE_GRAD
        store_extra(row + c + ${q}u, v[${q}]);
// @end
    }
    // @end
// @end
}

@compute @workgroup_size(8, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
// @if SUBGROUP
    // The lane whose A values subgroupBroadcast(x, lane) hands out: the workgroup is one subgroup
    // (src/gpu/kernels/matmul/mod.rs runs this kernel only where subgroups have at least 8 lanes).
    @builtin(subgroup_invocation_id) lane: u32,
// @else
    @builtin(local_invocation_index) lane: u32,
// @end
) {
    let M = params.m;
    let K = params.k;
    let N = params.n;
    let r0 = wg.y * TILE_M;
    let c0 = wg.x * TILE_N;
    // acc[i][j][q] = C(r0 + i, c0 + 32·j + 4·lane + q)
    var acc: array<array<vec4<f32>, COLS>, TILE_M>;

    for (var k0 = 0u; k0 < K; k0 += 8u) {
        // ---------------------------------------------------------------- LOAD A
// @if SUBGROUP
        // av[i] = A(r0 + i, k0 + lane), zero past K.
        let kl = min(k0 + lane, K - 1u);
        let k_in = k0 + lane < K;
        var av: array<f32, TILE_M>;
// @if A_KM && A_VEC4
        // A [K][M] with M % 4 == 0: four rows per vec4; rows past M read the last four.
        // @for q in 0..QUADS
        {
            let v = select(vec4(0.0), load_a4((kl * M + min(r0 + ${q*4}u, M - 4u)) / 4u), k_in);
            av[${q*4}] = v.x;
            av[${q*4+1}] = v.y;
            av[${q*4+2}] = v.z;
            av[${q*4+3}] = v.w;
        }
        // @end
// @else
        // @for i in 0..TILE_M
        {
            let r = min(r0 + ${i}u, M - 1u);
// @if A_KM
            av[${i}] = select(0.0, load_a(kl * M + r), k_in);
// @else
            av[${i}] = select(0.0, load_a(r * K + kl), k_in);
// @end
        }
        // @end
// @end
// @else
        // ad[i][kk] = A(r0 + i, k0 + kk), zero past K: the same address in every lane.
        var ad: array<array<f32, 8>, TILE_M>;
// @if A_KM && A_VEC4
        // A [K][M] with M % 4 == 0: four rows per vec4; rows past M read the last four.
        // @for kk in 0..8
        // @for q in 0..QUADS
        {
            let k = min(k0 + ${kk}u, K - 1u);
            let v = select(vec4(0.0), load_a4((k * M + min(r0 + ${q*4}u, M - 4u)) / 4u), k0 + ${kk}u < K);
            ad[${q*4}][${kk}] = v.x;
            ad[${q*4+1}][${kk}] = v.y;
            ad[${q*4+2}][${kk}] = v.z;
            ad[${q*4+3}][${kk}] = v.w;
        }
        // @end
        // @end
// @else
// @if A_VEC4
        // A [M][K] with K % 4 == 0: two vec4 along K per row (the upper one is past K only when
        // K = k0 + 4).
        // @for i in 0..TILE_M
        {
            let base = min(r0 + ${i}u, M - 1u) * K;
            let lo = load_a4((base + k0) / 4u);
            let hi = select(vec4(0.0), load_a4((base + min(k0 + 4u, K - 4u)) / 4u), k0 + 4u < K);
            ad[${i}] = array<f32, 8>(lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w);
        }
        // @end
// @else
        // @for i in 0..TILE_M
        // @for kk in 0..8
        {
            let r = min(r0 + ${i}u, M - 1u);
            let k = min(k0 + ${kk}u, K - 1u);
// @if A_KM
            ad[${i}][${kk}] = select(0.0, load_a(k * M + r), k0 + ${kk}u < K);
// @else
            ad[${i}][${kk}] = select(0.0, load_a(r * K + k), k0 + ${kk}u < K);
// @end
        }
        // @end
        // @end
// @end
// @end
// @end

        // ---------------------------------------------------------------- LOAD B
        // bv[j][kk] = B(k0 + kk, this lane's four columns of group j), zero past K.
        var bv: array<array<vec4<f32>, 8>, COLS>;
        // @for j in 0..COLS
        {
            let c = c0 + ${j*32}u + 4u * lane;
// @if B_NK
            // B [N][K]: each column is a row of B; read 8 k-steps of it.
            // @for q in 0..4
            {
                let base = min(c + ${q}u, N - 1u) * K;
// @if B_VEC4
                // K % 4 == 0, so k0 + 4 <= K; the upper half exists unless K = k0 + 4.
                let lo = load_b4((base + k0) / 4u);
                let hi = select(vec4(0.0), load_b4((base + min(k0 + 4u, K - 4u)) / 4u), k0 + 4u < K);
                bv[${j}][0][${q}] = lo.x;
                bv[${j}][1][${q}] = lo.y;
                bv[${j}][2][${q}] = lo.z;
                bv[${j}][3][${q}] = lo.w;
                bv[${j}][4][${q}] = hi.x;
                bv[${j}][5][${q}] = hi.y;
                bv[${j}][6][${q}] = hi.z;
                bv[${j}][7][${q}] = hi.w;
// @else
                // @for kk in 0..8
                bv[${j}][${kk}][${q}] = select(0.0, load_b(base + min(k0 + ${kk}u, K - 1u)), k0 + ${kk}u < K);
                // @end
// @end
            }
            // @end
// @else
            // B [K][N]: four neighbouring columns of one row of B; columns past N read the last
            // ones.
            // @for kk in 0..8
            {
                let row = min(k0 + ${kk}u, K - 1u) * N;
// @if B_VEC4
                let v = load_b4((row + min(c, N - 4u)) / 4u);
// @else
                let v = vec4(
                    load_b(row + min(c, N - 1u)),
                    load_b(row + min(c + 1u, N - 1u)),
                    load_b(row + min(c + 2u, N - 1u)),
                    load_b(row + min(c + 3u, N - 1u)),
                );
// @end
                bv[${j}][${kk}] = select(vec4(0.0), v, k0 + ${kk}u < K);
            }
            // @end
// @end
        }
        // @end

        // ---------------------------------------------------------------- COMPUTE
        // @for i in 0..TILE_M
        {
// @if SUBGROUP
            let x = av[${i}];
            let s = array<f32, 8>(
                subgroupBroadcast(x, 0u),
                subgroupBroadcast(x, 1u),
                subgroupBroadcast(x, 2u),
                subgroupBroadcast(x, 3u),
                subgroupBroadcast(x, 4u),
                subgroupBroadcast(x, 5u),
                subgroupBroadcast(x, 6u),
                subgroupBroadcast(x, 7u),
            );
// @else
            let s = ad[${i}];
// @end
            // One chain of 8 FMAs per accumulator: it is written once per block.
            // @for j in 0..COLS
            acc[${i}][${j}] = fma(vec4(s[7]), bv[${j}][7], fma(vec4(s[6]), bv[${j}][6],
                fma(vec4(s[5]), bv[${j}][5], fma(vec4(s[4]), bv[${j}][4],
                fma(vec4(s[3]), bv[${j}][3], fma(vec4(s[2]), bv[${j}][2],
                fma(vec4(s[1]), bv[${j}][1], fma(vec4(s[0]), bv[${j}][0], acc[${i}][${j}]))))))));
            // @end
        }
        // @end
    }

    // -------------------------------------------------------------------- STORE
    // The bias of this lane's columns, read once (bias_act only).
    var bias: array<vec4<f32>, COLS>;
// @if BIAS_ACT
    // @for j in 0..COLS
    // @for q in 0..4
    bias[${j}][${q}] = extra[min(c0 + ${j*32+q}u + 4u * lane, N - 1u)];
    // @end
    // @end
// @end
    // @for i in 0..TILE_M
    if r0 + ${i}u < M {
        // @for j in 0..COLS
        finish(r0 + ${i}u, c0 + ${j*32}u + 4u * lane, acc[${i}][${j}], bias[${j}]);
        // @end
    }
    // @end
// @if BIAS_ACT || ACT_GRAD
    // The activation, or its derivative, over the values this lane just stored (its own writes,
    // so no barrier): in a loop, as one copy of the activation code keeps the unrolled kernel's
    // compile time down (a copy per output doubled it).
    for (var i = 0u; i < TILE_M; i++) {
        let row = (r0 + i) * N;
        if r0 + i >= M {
            break;
        }
        for (var j = 0u; j < REG_N; j++) {
            let c = c0 + 32u * (j / 4u) + 4u * lane + j % 4u;
            if c < N {
// @if BIAS_ACT
                out[row + c] = act_forward(params.act, out[row + c]);
// @else
                out[row + c] = out[row + c] * act_grad_from_output(params.act, extra[row + c]);
// @end
            }
        }
    }
// @end
}
