// Command ociimage joins single-platform docker-archive tarballs (as written by
// hack/cluster/mkimg.sh) into one multi-platform OCI image layout tarball:
//
//	ociimage -ref REF -o OUT.tar OS/ARCH=DOCKER_ARCHIVE.tar...
//
// The layout holds an image index with one manifest per platform (its config blob kept
// byte for byte, its layers gzip-compressed), and index.json names that index with
// io.containerd.image.name=REF (full reference, what `ctr images import` and
// `docker load` use) and org.opencontainers.image.ref.name=TAG (what
// `skopeo copy oci-archive:OUT.tar:TAG` selects). Push it with, e.g.,
// `skopeo copy --all oci-archive:OUT.tar docker://REF`.
//
// Each input's config must say the platform it is given for: a mislabelled input is an
// error, not a silently wrong image. The output is reproducible: same inputs, same bytes.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// Media types (OCI image spec v1.1).
const (
	mtIndex    = "application/vnd.oci.image.index.v1+json"
	mtManifest = "application/vnd.oci.image.manifest.v1+json"
	mtConfig   = "application/vnd.oci.image.config.v1+json"
	mtLayerGz  = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// Descriptor is an OCI content descriptor.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Platform    *Platform         `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Platform is a descriptor's platform.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

// Index is an OCI image index (also the layout's index.json).
type Index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []Descriptor `json:"manifests"`
}

// Manifest is an OCI image manifest.
type Manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        Descriptor   `json:"config"`
	Layers        []Descriptor `json:"layers"`
}

// Input is one single-platform docker-archive.
type Input struct {
	OS, Arch string
	Path     string
}

func main() {
	ref := flag.String("ref", "", "image reference, e.g. ghcr.io/kubectl-shark/sniffer:v0.1.0")
	out := flag.String("o", "", "output OCI layout tarball")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: ociimage -ref REF -o OUT.tar OS/ARCH=DOCKER_ARCHIVE.tar...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *ref == "" || *out == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	var ins []Input
	for _, a := range flag.Args() {
		plat, file, ok := strings.Cut(a, "=")
		osName, arch, ok2 := strings.Cut(plat, "/")
		if !ok || !ok2 || osName == "" || arch == "" || file == "" {
			fmt.Fprintf(os.Stderr, "ociimage: %q: want OS/ARCH=FILE\n", a)
			os.Exit(2)
		}
		ins = append(ins, Input{OS: osName, Arch: arch, Path: file})
	}
	var buf bytes.Buffer
	idx, err := Build(&buf, *ref, ins)
	if err == nil {
		err = writeFile(*out, buf.Bytes())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
	fmt.Printf("built %s (%s, index %s:", *out, *ref, idx.Digest[:19])
	for _, in := range ins {
		fmt.Printf(" %s/%s", in.OS, in.Arch)
	}
	fmt.Printf(", %d bytes)\n", buf.Len())
}

func writeFile(name string, b []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// dockerArchive is what Build needs from a docker-archive.
type dockerArchive struct {
	config []byte
	layers [][]byte // uncompressed layer tars, in order
}

func readDockerArchive(p string) (*dockerArchive, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		files[path.Clean(hdr.Name)] = b
	}
	var man []struct {
		Config string
		Layers []string
	}
	if err := json.Unmarshal(files["manifest.json"], &man); err != nil {
		return nil, fmt.Errorf("%s: manifest.json: %v (is it a docker-archive?)", p, err)
	}
	if len(man) != 1 {
		return nil, fmt.Errorf("%s: manifest.json has %d images, want 1", p, len(man))
	}
	da := &dockerArchive{config: files[path.Clean(man[0].Config)]}
	if da.config == nil {
		return nil, fmt.Errorf("%s: config %s missing", p, man[0].Config)
	}
	for _, l := range man[0].Layers {
		b, ok := files[path.Clean(l)]
		if !ok {
			return nil, fmt.Errorf("%s: layer %s missing", p, l)
		}
		da.layers = append(da.layers, b)
	}
	return da, nil
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// gz compresses deterministically: no name, zero mtime, fixed level.
func gz(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// jsonBlob marshals v the way it is stored: compact, with a trailing newline.
func jsonBlob(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

// Build writes the OCI layout tarball of the inputs to w and returns the descriptor
// of the image index that index.json points to.
func Build(w io.Writer, ref string, ins []Input) (Descriptor, error) {
	tag := "latest"
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		tag = ref[i+1:]
	} else {
		ref += ":latest"
	}
	blobs := map[string][]byte{} // digest -> content
	add := func(b []byte) string {
		d := digest(b)
		blobs[d] = b
		return d
	}
	var manifests []Descriptor
	seen := map[string]bool{}
	for _, in := range ins {
		plat := in.OS + "/" + in.Arch
		if seen[plat] {
			return Descriptor{}, fmt.Errorf("platform %s given twice", plat)
		}
		seen[plat] = true
		da, err := readDockerArchive(in.Path)
		if err != nil {
			return Descriptor{}, err
		}
		var cfg struct {
			Architecture string `json:"architecture"`
			OS           string `json:"os"`
			Rootfs       struct {
				DiffIDs []string `json:"diff_ids"`
			} `json:"rootfs"`
		}
		if err := json.Unmarshal(da.config, &cfg); err != nil {
			return Descriptor{}, fmt.Errorf("%s: config: %v", in.Path, err)
		}
		if cfg.OS != in.OS || cfg.Architecture != in.Arch {
			return Descriptor{}, fmt.Errorf("%s: its config says %s/%s, not %s", in.Path, cfg.OS, cfg.Architecture, plat)
		}
		if len(cfg.Rootfs.DiffIDs) != len(da.layers) {
			return Descriptor{}, fmt.Errorf("%s: config lists %d layers, the archive has %d", in.Path, len(cfg.Rootfs.DiffIDs), len(da.layers))
		}
		m := Manifest{SchemaVersion: 2, MediaType: mtManifest,
			Config: Descriptor{MediaType: mtConfig, Digest: add(da.config), Size: int64(len(da.config))}}
		for i, l := range da.layers {
			if d := digest(l); d != cfg.Rootfs.DiffIDs[i] {
				return Descriptor{}, fmt.Errorf("%s: layer %d has digest %s, the config says %s", in.Path, i, d, cfg.Rootfs.DiffIDs[i])
			}
			c, err := gz(l)
			if err != nil {
				return Descriptor{}, err
			}
			m.Layers = append(m.Layers, Descriptor{MediaType: mtLayerGz, Digest: add(c), Size: int64(len(c))})
		}
		mb := jsonBlob(m)
		manifests = append(manifests, Descriptor{MediaType: mtManifest, Digest: add(mb), Size: int64(len(mb)),
			Platform: &Platform{Architecture: in.Arch, OS: in.OS}})
	}
	sort.Slice(manifests, func(i, j int) bool {
		a, b := manifests[i].Platform, manifests[j].Platform
		return a.OS+"/"+a.Architecture < b.OS+"/"+b.Architecture
	})
	ib := jsonBlob(Index{SchemaVersion: 2, MediaType: mtIndex, Manifests: manifests})
	idx := Descriptor{MediaType: mtIndex, Digest: add(ib), Size: int64(len(ib)), Annotations: map[string]string{
		"io.containerd.image.name":          ref,
		"org.opencontainers.image.ref.name": tag,
	}}
	top := jsonBlob(Index{SchemaVersion: 2, MediaType: mtIndex, Manifests: []Descriptor{idx}})

	files := map[string][]byte{
		"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}` + "\n"),
		"index.json": top,
	}
	for d, b := range blobs {
		files["blobs/sha256/"+strings.TrimPrefix(d, "sha256:")] = b
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tar.NewWriter(w)
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: time.Unix(0, 0), Format: tar.FormatUSTAR}); err != nil {
			return Descriptor{}, err
		}
	}
	for _, n := range names {
		b := files[n]
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(b)), ModTime: time.Unix(0, 0), Format: tar.FormatUSTAR}); err != nil {
			return Descriptor{}, err
		}
		if _, err := tw.Write(b); err != nil {
			return Descriptor{}, err
		}
	}
	return idx, tw.Close()
}
