// Package archive reads stored mail — a directory of message files, a
// Maildir or an mbox — and hands each message to a sink as a stream of
// bytes, so that a month of mail can be classified without holding any
// message in memory.
package archive

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Sink receives the messages of an archive, one after the other.
type Sink interface {
	// Begin starts a message; name identifies it in reports: a file path,
	// or the mbox path and the message's number ("Sent.mbox#12").
	Begin(name string) io.Writer
	// End finishes the message begun last.
	End()
	// Skip is told about a file in a directory that is not a message.
	Skip(name string)
}

// Kinds of archive.
const (
	KindFile    = "file"    // one message
	KindMbox    = "mbox"    // messages separated by "From " lines
	KindMaildir = "maildir" // a folder with cur/ and new/
	KindDir     = "dir"     // a directory of message files
)

// Detect says what path holds.
func Detect(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if fi.IsDir() {
		if isDir(filepath.Join(path, "cur")) && isDir(filepath.Join(path, "new")) {
			return KindMaildir, nil
		}
		return KindDir, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 5)
	n, _ := io.ReadFull(f, head)
	if string(head[:n]) == "From " {
		return KindMbox, nil
	}
	return KindFile, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// Read hands every message under path to sink, in a stable order (file
// names sorted; an mbox in file order). A file that cannot be read is
// reported in the returned error, which joins every such problem; reading
// goes on with the next file.
func Read(path string, sink Sink) error {
	kind, err := Detect(path)
	if err != nil {
		return err
	}
	switch kind {
	case KindFile:
		return readFile(path, sink)
	case KindMbox:
		return readMbox(path, sink)
	case KindMaildir:
		var errs []error
		for _, sub := range []string{"cur", "new"} {
			errs = append(errs, readDir(filepath.Join(path, sub), false, sink))
		}
		return errors.Join(errs...)
	}
	return readDir(path, true, sink)
}

// readDir reads the regular files of dir (and of its subdirectories when
// recursive), skipping hidden ones; *.mbox files are read as mboxes.
func readDir(dir string, recursive bool, sink Sink) error {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if p != dir && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, f := range files {
		var err error
		switch kind, derr := Detect(f); {
		case derr != nil:
			err = derr
		case kind == KindMbox:
			err = readMbox(f, sink)
		case looksLikeMessage(f):
			err = readFile(f, sink)
		default:
			sink.Skip(f)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// looksLikeMessage reports whether a file starts with a header field, as
// every message does; a directory of mail often holds other files too.
func looksLikeMessage(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return true // let readFile report the error
	}
	defer f.Close()
	line, _ := bufio.NewReaderSize(f, 4096).ReadSlice('\n')
	name, _, ok := bytes.Cut(line, []byte(":"))
	if !ok || len(name) == 0 || len(name) > 76 {
		return false
	}
	for _, c := range name {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// readFile hands one file to the sink as one message.
func readFile(path string, sink Sink) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := sink.Begin(path)
	_, err = io.Copy(w, f)
	sink.End()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// readMbox splits an mbox (RFC 4155) into messages: a line that starts
// with "From " at the start of the file or after an empty line begins a
// message and is not part of it; mboxrd's quoting (">From ", ">>From ")
// loses one '>'. Lines of any length are passed on in pieces.
func readMbox(path string, sink Sink) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var w io.Writer
	n := 0
	atStart, prevEmpty, first := true, true, true
	for {
		line, err := r.ReadSlice('\n')
		if len(line) > 0 {
			if atStart && prevEmpty && bytes.HasPrefix(line, []byte("From ")) {
				if w != nil {
					sink.End()
				}
				n++
				w = sink.Begin(path + "#" + strconv.Itoa(n))
				first = false
				// the separator line may be longer than the buffer
				for errors.Is(err, bufio.ErrBufferFull) {
					_, err = r.ReadSlice('\n')
				}
				atStart, prevEmpty = true, false
				if err != nil && !errors.Is(err, io.EOF) {
					return fmt.Errorf("%s: %w", path, err)
				}
				if err != nil {
					break
				}
				continue
			}
			if first {
				return fmt.Errorf("%s: not an mbox: it does not start with a \"From \" line", path)
			}
			out := line
			if atStart && len(out) > 5 && out[0] == '>' {
				if trimmed := bytes.TrimLeft(out, ">"); bytes.HasPrefix(trimmed, []byte("From ")) {
					out = out[1:]
				}
			}
			w.Write(out)
			complete := line[len(line)-1] == '\n'
			if atStart {
				prevEmpty = complete && len(bytes.TrimRight(line, "\r\n")) == 0
			}
			atStart = complete
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if w != nil {
		sink.End()
	}
	return nil
}
