package interp

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/mat"

	"github.com/go-rlm/rlm/llama/gguf"
)

// Unembed is a model's final RMSNorm and unembedding matrix, read from its
// GGUF file into Go: what turns a residual-stream vector into logits. The
// weights are dequantized with package gguf (F32, F16, BF16, Q8_0, Q4_0,
// Q4_K, Q6_K and the other types ggml stores), bit for bit as ggml does.
// Models with tied embeddings, which have no output.weight, unembed with
// token_embd.weight. An Unembed is immutable and safe for concurrent use.
type Unembed struct {
	norm   []float32 // output_norm.weight
	w      []float32 // vocab rows of nEmbd values
	bias   []float32 // output.bias, if the model has one
	eps    float64
	nEmbd  int
	nVocab int
}

// LoadUnembed reads the final norm and unembedding of the GGUF model at
// path (the first part of a split model). Only RMSNorm models are
// supported (Llama, Qwen2, Mistral and their kin).
func LoadUnembed(path string) (*Unembed, error) {
	u, err := loadUnembed(path)
	if err != nil {
		return nil, fmt.Errorf("interp: load unembed: %w", err)
	}
	return u, nil
}

func loadUnembed(path string) (*Unembed, error) {
	parts, err := gguf.SplitPaths(path)
	if err != nil {
		return nil, err
	}
	files := make([]*gguf.File, 0, len(parts))
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, p := range parts {
		f, err := gguf.Open(p)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	find := func(name string) (*gguf.File, gguf.TensorInfo, bool) {
		for _, f := range files {
			if info, ok := f.Tensor(name); ok {
				return f, info, true
			}
		}
		return nil, gguf.TensorInfo{}, false
	}
	read := func(name string) ([]float32, gguf.TensorInfo, error) {
		f, info, ok := find(name)
		if !ok {
			return nil, info, fmt.Errorf("%s: no tensor %s", path, name)
		}
		data, err := f.TensorFloat32(name)
		return data, info, err
	}

	arch, err := files[0].Architecture()
	if err != nil {
		return nil, err
	}
	if _, _, ok := find("output_norm.bias"); ok {
		return nil, fmt.Errorf("%s: the final norm has a bias (a LayerNorm model); only RMSNorm is supported", path)
	}
	u := &Unembed{}
	eps, err := files[0].Float(arch + ".attention.layer_norm_rms_epsilon")
	if err != nil {
		return nil, err
	}
	u.eps = eps
	if u.norm, _, err = read("output_norm.weight"); err != nil {
		return nil, err
	}
	out := "output.weight"
	if _, _, ok := find(out); !ok {
		out = "token_embd.weight" // tied embeddings
	}
	w, info, err := read(out)
	if err != nil {
		return nil, err
	}
	if len(info.Shape) != 2 || int(info.Shape[0]) != len(u.norm) {
		return nil, fmt.Errorf("%s: %s has shape %v, want [%d, vocab]", path, out, info.Shape, len(u.norm))
	}
	u.w, u.nEmbd, u.nVocab = w, int(info.Shape[0]), int(info.Shape[1])
	if _, _, ok := find("output.bias"); ok {
		if u.bias, _, err = read("output.bias"); err != nil {
			return nil, err
		}
		if len(u.bias) != u.nVocab {
			return nil, errors.New("output.bias does not match the vocabulary")
		}
	}
	return u, nil
}

// EmbeddingSize is the width of the residual stream.
func (u *Unembed) EmbeddingSize() int { return u.nEmbd }

// VocabSize is the number of tokens.
func (u *Unembed) VocabSize() int { return u.nVocab }

// Normalize applies the final RMSNorm to each row of resid (tokens ×
// n_embd) as llama.cpp does: x / sqrt(mean(x²) + eps), times the norm's
// weight. The result is what ln_final.hook_normalized captures. It panics if
// resid's width is not the model's.
func (u *Unembed) Normalize(resid mat.Matrix) *mat.Dense {
	rows, cols := resid.Dims()
	if cols != u.nEmbd {
		panic(fmt.Sprintf("interp: unembed: rows of %d values, the model's are %d", cols, u.nEmbd))
	}
	out := mat.NewDense(rows, cols, nil)
	for i := 0; i < rows; i++ {
		var ss float64
		for j := 0; j < cols; j++ {
			v := resid.At(i, j)
			ss += v * v
		}
		scale := 1 / math.Sqrt(ss/float64(cols)+u.eps)
		dst := out.RawRowView(i)
		for j := range dst {
			dst[j] = resid.At(i, j) * scale * float64(u.norm[j])
		}
	}
	return out
}

// Project multiplies each row of normed (tokens × n_embd, already through
// the final norm) by the unembedding: tokens × vocab logits.
func (u *Unembed) Project(normed mat.Matrix) *mat.Dense {
	rows, cols := normed.Dims()
	if cols != u.nEmbd {
		panic(fmt.Sprintf("interp: unembed: rows of %d values, the model's are %d", cols, u.nEmbd))
	}
	x := make([]float32, rows*cols)
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			x[i*cols+j] = float32(normed.At(i, j))
		}
	}
	y := make([]float32, rows*u.nVocab)
	blas32.Gemm(blas.NoTrans, blas.Trans, 1,
		blas32.General{Rows: rows, Cols: cols, Stride: cols, Data: x},
		blas32.General{Rows: u.nVocab, Cols: cols, Stride: cols, Data: u.w},
		0, blas32.General{Rows: rows, Cols: u.nVocab, Stride: u.nVocab, Data: y})
	out := mat.NewDense(rows, u.nVocab, nil)
	for i := 0; i < rows; i++ {
		dst := out.RawRowView(i)
		for j := range dst {
			dst[j] = float64(y[i*u.nVocab+j])
			if u.bias != nil {
				dst[j] += float64(u.bias[j])
			}
		}
	}
	return out
}

// Logits is Project(Normalize(resid)): the logits the model would give if
// its residual stream ended with resid.
func (u *Unembed) Logits(resid mat.Matrix) *mat.Dense { return u.Project(u.Normalize(resid)) }
