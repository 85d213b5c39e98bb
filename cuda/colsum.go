package cuda

import "fmt"

// Column sums of a [rows, C] tensor, for the bias and LayerNorm γ/β
// gradients: deterministic, in two stages (a partial sum per chunk of rows,
// then colsum_final adds the chunks' partials into the gradient).

// colsum adds the column sums of a [rows, C] source into out.
// kind: "ln" (out = γ grad, out2 = β grad, from dy·x̂ and dy), "f32" (with
// dropout d; dB its layout argument), "g" (GEMM-typed source).
func (p *pass) colsum(kind string, src, xhat DevPtr, d dropout, rows, C int, out, out2 DevPtr, dB int32) error {
	e, a := p.e, p.a
	chunks, rpc := colsumChunks(rows)
	grid := [3]uint32{uint32((C + 31) / 32), uint32(chunks), 1}
	blk := [3]uint32{32, 8, 1}
	var err error
	ld := C
	switch kind {
	case "ln":
		ld = 2 * C
		err = e.l.launch("colsum_ln_partial", grid, blk, 0, src, xhat, int32(rows), int32(C), int32(rpc), a.colsumPartials)
	case "f32":
		err = e.l.launch("colsum_f32_partial", grid, blk, 0, src, d.seed, d.step, d.site, d.thr, d.scale, int32(rows), int32(C), int32(rpc), a.colsumPartials, dB)
	case "g":
		err = e.l.launch("colsum_g_partial", grid, blk, 0, src, int32(rows), int32(C), int32(rpc), a.colsumPartials)
	default:
		return fmt.Errorf("colsum: unknown kind %q", kind)
	}
	if err != nil {
		return err
	}
	C2 := 0
	if kind == "ln" {
		C2 = C // the β sums follow the γ sums in each chunk's partials
	}
	fgrid := [3]uint32{uint32((C + C2 + threadsPerBlock - 1) / threadsPerBlock), 1, 1}
	return e.l.launch("colsum_final", fgrid, block1D, 0, a.colsumPartials, int32(chunks), int32(ld), int32(C), float32(1), out, int32(C2), out2)
}

// lnColsumChunks splits rows into the chunks of the fused LayerNorm
// backward (ln_bwd_colsum_K, one block per chunk): 32 rows per chunk (4 per
// warp), so the partial row a block writes (2H floats) is 1/32 of what it
// reads, and T = 16384 rows make 512 blocks, enough to fill the GPU where
// colsumChunks' 128 would not. The chunks' partials must fit the scratch
// (capFloats, the plan's colsumFloats ≥ colsumChunks(rows)·2H, so at least
// colsumChunks' split always fits), and at most 1024 of them keep
// ln_colsum_final's pass over them short.
func lnColsumChunks(rows, H, capFloats int) (chunks, rowsPerChunk int) {
	const rowsPerBlock, maxChunks = 32, 1024
	chunks = min((rows+rowsPerBlock-1)/rowsPerBlock, maxChunks, capFloats/(2*H))
	chunks = max(chunks, 1)
	rowsPerChunk = (max(rows, 1) + chunks - 1) / chunks
	chunks = (max(rows, 1) + rowsPerChunk - 1) / rowsPerChunk
	return
}
