package hub

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ModelSpec is a parsed model spec: a GGUF model on the Hub or on disk.
type ModelSpec struct {
	// Local is the path of a model on disk; the other fields are then empty.
	Local string
	// Repo is the model repository, "owner/name".
	Repo string
	// Revision is the branch, tag or commit; "" means main.
	Revision string
	// Tag is the quantization asked for ("Q4_K_M", "F16"), or "" for the
	// default choice. Empty when File is set.
	Tag string
	// File is the path of a GGUF file in the repository, if named.
	File string
}

// ParseModelSpec parses a model spec:
//
//	hf://owner/repo:QUANT             the GGUF file of that quantization
//	hf://owner/repo                   Q4_K_M, else Q8_0, else the first GGUF model
//	hf://owner/repo/dir/file.gguf     that file
//	hf://owner/repo@revision:QUANT    at a revision (also with a file path)
//	/path/to/model.gguf               a file on disk (anything without hf://)
func ParseModelSpec(spec string) (ModelSpec, error) {
	rest, ok := strings.CutPrefix(spec, "hf://")
	if !ok {
		if spec == "" {
			return ModelSpec{}, fmt.Errorf("hub: empty model spec")
		}
		return ModelSpec{Local: spec}, nil
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) < 2 {
		return ModelSpec{}, fmt.Errorf("hub: model spec %q: want hf://owner/repo[:QUANT] or hf://owner/repo/file.gguf", spec)
	}
	var s ModelSpec
	name := parts[1]
	if len(parts) == 3 {
		s.File = parts[2]
		if err := checkFilePath(s.File); err != nil {
			return ModelSpec{}, fmt.Errorf("hub: model spec %q: %w", spec, err)
		}
	} else if i := strings.LastIndexByte(name, ':'); i >= 0 {
		name, s.Tag = name[:i], name[i+1:]
		if s.Tag == "" {
			return ModelSpec{}, fmt.Errorf("hub: model spec %q: empty quantization after ':'", spec)
		}
	}
	if i := strings.IndexByte(name, '@'); i >= 0 {
		name, s.Revision = name[:i], name[i+1:]
		if err := checkRevision(s.Revision); err != nil {
			return ModelSpec{}, fmt.Errorf("hub: model spec %q: %w", spec, err)
		}
	}
	s.Repo = parts[0] + "/" + name
	if err := checkRepo(s.Repo); err != nil {
		return ModelSpec{}, fmt.Errorf("hub: model spec %q: %w", spec, err)
	}
	return s, nil
}

// String writes the spec back in the form ParseModelSpec reads.
func (s ModelSpec) String() string {
	if s.Local != "" {
		return s.Local
	}
	out := "hf://" + s.Repo
	if s.Revision != "" {
		out += "@" + s.Revision
	}
	switch {
	case s.File != "":
		out += "/" + s.File
	case s.Tag != "":
		out += ":" + s.Tag
	}
	return out
}

// ResolveModel returns the local paths of the GGUF file a model spec names
// (see [ParseModelSpec]), downloading what the cache lacks. A quantization
// tag is matched against the repository's file listing as llama.cpp's
// "-hf owner/repo:QUANT" does: the first GGUF model file (not an mmproj,
// imatrix or draft file) whose name holds the tag followed by '.' or '-',
// case-insensitively; a match where the tag also follows a separator wins,
// so that F16 picks model-F16.gguf over model-BF16.gguf.
//
// A split model (name-00001-of-00003.gguf) resolves to all its parts, in
// order; the first is the path to load. Offline or with the Hub unreachable,
// the listing and files come from the cache.
func (c *Client) ResolveModel(ctx context.Context, spec string) ([]string, error) {
	s, err := ParseModelSpec(spec)
	if err != nil {
		return nil, err
	}
	if s.Local != "" {
		return localParts(s.Local)
	}
	var files []string
	if s.File != "" {
		files = splitPartNames(s.File)
	} else {
		listing, err := c.ListFiles(ctx, s.Repo, Model, s.Revision)
		if err != nil {
			return nil, fmt.Errorf("hub: resolve %s: %w", spec, err)
		}
		if files, err = pickModel(listing, s.Tag); err != nil {
			return nil, fmt.Errorf("hub: resolve %s: %w", spec, err)
		}
	}
	paths := make([]string, len(files))
	for i, f := range files {
		if paths[i], err = c.Download(ctx, s.Repo, Model, s.Revision, f); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// splitName matches the parts of a split GGUF: name-00001-of-00003.gguf.
var splitName = regexp.MustCompile(`(?i)^(.+)-([0-9]{5})-of-([0-9]{5})\.gguf$`)

// splitPartNames returns the names of every part of the split model file
// belongs to, or file alone.
func splitPartNames(file string) []string {
	m := splitName.FindStringSubmatch(file)
	if m == nil {
		return []string{file}
	}
	count, _ := strconv.Atoi(m[3])
	names := make([]string, count)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%05d-of-%05d.gguf", m[1], i+1, count)
	}
	return names
}

// isFirstPart reports whether file is not a split part, or its first part.
func isFirstPart(file string) bool {
	m := splitName.FindStringSubmatch(file)
	return m == nil || m[2] == "00001"
}

// isModelGGUF reports whether file is a GGUF model rather than a projector,
// an importance matrix or a draft model, as llama.cpp decides.
func isModelGGUF(file string) bool {
	if !strings.HasSuffix(strings.ToLower(file), ".gguf") {
		return false
	}
	base := path.Base(file)
	for _, marker := range []string{"mmproj", "imatrix", "mtp-", "eagle3-", "dflash-", "dspark-"} {
		if strings.Contains(base, marker) {
			return false
		}
	}
	return true
}

// pickModel chooses the file a tag names in a listing and returns the
// names of all its parts.
func pickModel(listing []File, tag string) ([]string, error) {
	tags := []string{tag}
	if tag == "" {
		tags = []string{"Q4_K_M", "Q8_0"}
	}
	var models []string
	for _, f := range listing {
		if isModelGGUF(f.Path) && isFirstPart(f.Path) {
			models = append(models, f.Path)
		}
	}
	pick := ""
	for _, t := range tags {
		quoted := regexp.QuoteMeta(t)
		exact := regexp.MustCompile(`(?i)(^|[-._/])` + quoted + `[.-]`)
		loose := regexp.MustCompile(`(?i)` + quoted + `[.-]`)
		if i := slices.IndexFunc(models, exact.MatchString); i >= 0 {
			pick = models[i]
		} else if i := slices.IndexFunc(models, loose.MatchString); i >= 0 {
			pick = models[i]
		}
		if pick != "" {
			break
		}
	}
	if pick == "" && tag == "" && len(models) > 0 {
		pick = models[0]
	}
	if pick == "" {
		return nil, fmt.Errorf("%w for %q among %s", ErrNoMatch, tag, ggufList(listing))
	}
	parts := splitPartNames(pick)
	for _, part := range parts {
		if !slices.ContainsFunc(listing, func(f File) bool { return f.Path == part }) {
			return nil, fmt.Errorf("%w: part %s of %s is not in the repository", ErrNoMatch, part, pick)
		}
	}
	return parts, nil
}

func ggufList(listing []File) string {
	var names []string
	for _, f := range listing {
		if strings.HasSuffix(strings.ToLower(f.Path), ".gguf") {
			names = append(names, f.Path)
		}
	}
	if len(names) == 0 {
		return "no GGUF files"
	}
	return strings.Join(names, ", ")
}

// localParts returns a model file on disk, with its other parts if it is
// the first part of a split model.
func localParts(file string) ([]string, error) {
	parts := []string{file}
	dir, base := filepath.Split(file)
	if names := splitPartNames(base); len(names) > 1 && isFirstPart(base) {
		for _, name := range names[1:] {
			parts = append(parts, dir+name)
		}
	}
	for _, p := range parts {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("hub: model %s: %w", file, err)
		}
	}
	return parts, nil
}
