package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/go-rlm/rlm/examples/internal/cli"
	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/hub"
	"github.com/go-rlm/rlm/rlm/local"
	"github.com/go-rlm/rlm/rlm/openai"
)

// models are the language models of an evaluation, loaded. Close them when
// done; Close is safe on nil and more than once.
type models struct {
	controller rlm.LM
	worker     *local.LM
	// extra are the -extra-worker workers, by name.
	extra map[string]*local.LM
	// workerWindow is the worker's context per sub-call, in tokens: the
	// one asked for, capped at the model's training context.
	workerWindow int

	lms    []*local.LM
	loaded []*llama.Model
}

// modelFiles are the local paths of the models, resolved before anything
// is loaded, so that a missing download fails before any work starts.
type modelFiles struct {
	controller, worker string   // controller is "" for a controller server
	extra              []string // the files of Config.ExtraWorkers, in order
}

// resolveModels turns the model specs into local files, downloading what
// the Hub's cache lacks.
func resolveModels(ctx context.Context, s settings, hc *hub.Client) (modelFiles, error) {
	var files modelFiles
	resolve := func(spec string) (string, error) {
		paths, err := hc.ResolveModel(ctx, spec)
		if err != nil {
			return "", err
		}
		return paths[0], nil // the first part of a split model loads them all
	}
	var err error
	if s.Controller != "" {
		if files.controller, err = resolve(s.Controller); err != nil {
			return files, fmt.Errorf("controller: %w", err)
		}
	}
	if files.worker, err = resolve(s.Worker); err != nil {
		return files, fmt.Errorf("worker: %w", err)
	}
	for _, w := range s.ExtraWorkers {
		path, err := resolve(w.Model)
		if err != nil {
			return files, fmt.Errorf("worker %s: %w", w.Name, err)
		}
		files.extra = append(files.extra, path)
	}
	return files, nil
}

// pickDevices chooses where each model goes, after loading the backend
// library if one is given. Unless named, the controller goes on the first
// GPU and the worker on the second (the reference setup: one model per
// GPU), both on the only GPU if there is one, and on the CPU otherwise.
func pickDevices(s settings) (controller, worker string, err error) {
	if s.CUDALib != "" {
		if err := llama.LoadBackend(s.CUDALib); err != nil {
			return "", "", err
		}
	}
	controller, worker = cli.PlaceModels()
	if s.ControllerDevice != "" {
		controller = s.ControllerDevice
	}
	if s.WorkerDevice != "" {
		worker = s.WorkerDevice
	}
	return controller, worker, nil
}

// loadModels loads the models and starts their adapters. A controller and
// worker of the same file on the same device share one loaded model.
func loadModels(ctx context.Context, s settings, files modelFiles, log *slog.Logger) (_ *models, err error) {
	controllerDevice, workerDevice, err := pickDevices(s)
	if err != nil {
		return nil, err
	}
	m := &models{extra: map[string]*local.LM{}}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	byKey := map[string]*llama.Model{}
	load := func(path, device string) (*llama.Model, error) {
		key := device + "\x00" + path
		if model, ok := byKey[key]; ok {
			return model, nil
		}
		log.Info("loading model", "path", path, "device", device)
		model, err := llama.LoadModel(ctx, path, cli.OnDevice(device, s.GPULayers)...)
		if err != nil {
			return nil, err
		}
		byKey[key] = model
		m.loaded = append(m.loaded, model)
		return model, nil
	}

	workerModel, err := load(files.worker, workerDevice)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	info, err := workerModel.Info()
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	m.workerWindow = s.WorkerContext
	if info.TrainContext > 0 {
		m.workerWindow = min(m.workerWindow, info.TrainContext)
	}
	if s.WorkerMaxTokens >= m.workerWindow {
		return nil, fmt.Errorf("worker: -worker-max-tokens %d leaves no room in its %d-token context", s.WorkerMaxTokens, m.workerWindow)
	}
	workerOptions := []local.Option{
		local.WithSequences(s.WorkerParallel),
		local.WithSequenceSize(s.WorkerContext),
		local.WithMaxTokens(s.WorkerMaxTokens),
		local.WithSampling(llama.Sampling{Grammar: s.WorkerGrammar}),
		local.WithThreads(s.Threads),
		local.WithLogger(log),
	}
	if m.worker, err = m.start(workerModel, workerOptions...); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	for i, w := range s.ExtraWorkers {
		model, err := load(files.extra[i], workerDevice)
		if err != nil {
			return nil, fmt.Errorf("worker %s: %w", w.Name, err)
		}
		lm, err := m.start(model, workerOptions...)
		if err != nil {
			return nil, fmt.Errorf("worker %s: %w", w.Name, err)
		}
		m.extra[w.Name] = lm
	}

	if s.ControllerURL != "" {
		client, err := openai.New(s.ControllerModel,
			openai.WithBaseURL(s.ControllerURL),
			openai.WithTemperature(0),
			openai.WithMaxTokens(s.ControllerMaxTokens),
			openai.WithLogger(log))
		if err != nil {
			return nil, fmt.Errorf("controller: %w", err)
		}
		m.controller = client
		return m, nil
	}
	controllerModel, err := load(files.controller, controllerDevice)
	if err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	if m.controller, err = m.start(controllerModel,
		local.WithSequences(1),
		local.WithSequenceSize(s.ControllerContext),
		local.WithMaxTokens(s.ControllerMaxTokens),
		local.WithThreads(s.Threads),
		local.WithLogger(log)); err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	return m, nil
}

// countContextTokens counts the tokens of a context window with the
// worker's tokenizer, as the official evaluation counts them with Hugging
// Face's tokenizer.encode: special tokens added (a BOS where the model
// wants one), and special-token text in the window read as such.
func (m *models) countContextTokens(text string) (int, error) {
	tokens, err := m.worker.Model().Tokenize(text, true, true)
	return len(tokens), err
}

func (m *models) start(model *llama.Model, opts ...local.Option) (*local.LM, error) {
	lm, err := local.New(model, opts...)
	if err != nil {
		return nil, err
	}
	m.lms = append(m.lms, lm)
	return lm, nil
}

// Close stops the adapters, then frees the models.
func (m *models) Close() error {
	if m == nil {
		return nil
	}
	var errs []error
	for _, lm := range m.lms {
		errs = append(errs, lm.Close())
	}
	for _, model := range m.loaded {
		errs = append(errs, model.Close())
	}
	m.lms, m.loaded = nil, nil
	return errors.Join(errs...)
}
