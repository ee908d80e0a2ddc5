// Package progress reads rsync's machine-facing output (--info=progress2,
// --out-format file lines, --stats) into typed values and writes them as JSON
// lines, so a workflow activity can follow a mover it did not start. Parsing
// is pure; only Reporter writes.
package progress

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
)

// Line is one parsed progress2 line, e.g.
//
//	21,168,209  70%   19.56MB/s    0:00:00 (xfr#31, to-chk=1/37)
type Line struct {
	Bytes           int64
	Percent         int
	RateBytesPerSec float64
	// Time is rsync's time column: the estimated time left while a file is
	// in flight, the elapsed time on lines that close a file (HasXfr).
	Time      time.Duration
	TimeKnown bool
	// HasXfr is set on lines that end a file; the counters below are valid then.
	HasXfr           bool
	FilesTransferred int
	// ToCheck and Total come from "to-chk=N/M" (file list complete) or
	// "ir-chk=N/M" (incremental recursion still scanning, Total grows).
	ToCheck      int
	Total        int
	ScanComplete bool
}

var progressRe = regexp.MustCompile(`^\s*([0-9][0-9,]*)\s+([0-9]{1,3})%\s+([0-9]+(?:\.[0-9]+)?)([kMGTP]?B)/s\s+([0-9]+:[0-9]{2}:[0-9]{2}|\?+:\?+:\?+)(?:\s+\(xfr#([0-9]+), (to|ir)-chk=([0-9]+)/([0-9]+)\))?\s*$`)

var unitScale = map[string]float64{
	"B": 1, "kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40, "PB": 1 << 50,
}

// ParseProgressLine parses one progress2 line (without the carriage return).
func ParseProgressLine(s string) (Line, bool) {
	m := progressRe.FindStringSubmatch(s)
	if m == nil {
		return Line{}, false
	}
	var l Line
	var ok bool
	if l.Bytes, ok = parseCount(m[1]); !ok {
		return Line{}, false
	}
	pct, err := strconv.Atoi(m[2])
	if err != nil || pct > 100 {
		return Line{}, false
	}
	l.Percent = pct
	rate, err := strconv.ParseFloat(m[3], 64)
	if err != nil {
		return Line{}, false
	}
	l.RateBytesPerSec = rate * unitScale[m[4]]
	l.Time, l.TimeKnown = parseClock(m[5])
	if m[6] != "" {
		l.HasXfr = true
		l.FilesTransferred, _ = strconv.Atoi(m[6])
		l.ScanComplete = m[7] == "to"
		l.ToCheck, _ = strconv.Atoi(m[8])
		l.Total, _ = strconv.Atoi(m[9])
		if l.ToCheck > l.Total {
			return Line{}, false
		}
	}
	return l, true
}

// ParseFileLine returns the file name of an --out-format line written with
// rsyncargs.FileLinePrefix, with rsync's \#ooo escapes decoded.
func ParseFileLine(s string) (string, bool) {
	name, ok := strings.CutPrefix(s, rsyncargs.FileLinePrefix)
	if !ok || name == "" {
		return "", false
	}
	return Unescape(name), true
}

// Unescape decodes rsync's output escapes: a byte it will not print raw is
// written as a backslash, '#' and three octal digits.
func Unescape(s string) string {
	if !strings.Contains(s, `\#`) {
		return s
	}
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+5 <= len(s) && s[i+1] == '#' && isOctal(s[i+2:i+5]) {
			v, _ := strconv.ParseUint(s[i+2:i+5], 8, 8)
			b.WriteByte(byte(v))
			i += 4
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(s string) bool {
	if len(s) != 3 || s[0] > '3' {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '7' {
			return false
		}
	}
	return true
}

// Stats is rsync's --stats block.
type Stats struct {
	NumFiles                 int64 `json:"numFiles"`
	CreatedFiles             int64 `json:"createdFiles"`
	DeletedFiles             int64 `json:"deletedFiles"`
	RegularFilesTransferred  int64 `json:"regularFilesTransferred"`
	TotalFileSize            int64 `json:"totalFileSize"`
	TotalTransferredFileSize int64 `json:"totalTransferredFileSize"`
	LiteralData              int64 `json:"literalData"`
	MatchedData              int64 `json:"matchedData"`
	BytesSent                int64 `json:"bytesSent"`
	BytesReceived            int64 `json:"bytesReceived"`
}

// Add sums two stats blocks (parallel streams).
func (s Stats) Add(o Stats) Stats {
	return Stats{
		NumFiles:                 s.NumFiles + o.NumFiles,
		CreatedFiles:             s.CreatedFiles + o.CreatedFiles,
		DeletedFiles:             s.DeletedFiles + o.DeletedFiles,
		RegularFilesTransferred:  s.RegularFilesTransferred + o.RegularFilesTransferred,
		TotalFileSize:            s.TotalFileSize + o.TotalFileSize,
		TotalTransferredFileSize: s.TotalTransferredFileSize + o.TotalTransferredFileSize,
		LiteralData:              s.LiteralData + o.LiteralData,
		MatchedData:              s.MatchedData + o.MatchedData,
		BytesSent:                s.BytesSent + o.BytesSent,
		BytesReceived:            s.BytesReceived + o.BytesReceived,
	}
}

var statsFields = []struct {
	prefix string
	field  func(*Stats) *int64
}{
	{"Number of files: ", func(s *Stats) *int64 { return &s.NumFiles }},
	{"Number of created files: ", func(s *Stats) *int64 { return &s.CreatedFiles }},
	{"Number of deleted files: ", func(s *Stats) *int64 { return &s.DeletedFiles }},
	{"Number of regular files transferred: ", func(s *Stats) *int64 { return &s.RegularFilesTransferred }},
	{"Total file size: ", func(s *Stats) *int64 { return &s.TotalFileSize }},
	{"Total transferred file size: ", func(s *Stats) *int64 { return &s.TotalTransferredFileSize }},
	{"Literal data: ", func(s *Stats) *int64 { return &s.LiteralData }},
	{"Matched data: ", func(s *Stats) *int64 { return &s.MatchedData }},
	{"Total bytes sent: ", func(s *Stats) *int64 { return &s.BytesSent }},
	{"Total bytes received: ", func(s *Stats) *int64 { return &s.BytesReceived }},
}

// ParseStatsLine stores the value of one --stats line into s and reports
// whether the line was a stats line.
func ParseStatsLine(line string, s *Stats) bool {
	for _, f := range statsFields {
		rest, ok := strings.CutPrefix(line, f.prefix)
		if !ok {
			continue
		}
		word, _, _ := strings.Cut(rest, " ")
		n, ok := parseCount(word)
		if !ok {
			return false
		}
		*f.field(s) = n
		return true
	}
	return false
}

// parseCount parses rsync's digit-grouped numbers ("1,234,567").
func parseCount(s string) (int64, bool) {
	s = strings.ReplaceAll(s, ",", "")
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// parseClock parses rsync's H:MM:SS column; "??:??:??" means unknown.
func parseClock(s string) (time.Duration, bool) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, false
	}
	var total int64
	for _, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || n < 0 || n > 1<<31 {
			return 0, false
		}
		total = total*60 + n
	}
	return time.Duration(total) * time.Second, true
}

// SplitLines is a bufio.SplitFunc that splits on both '\n' and '\r', because
// progress2 rewrites its line with carriage returns. Empty lines are dropped.
func SplitLines(data []byte, atEOF bool) (advance int, token []byte, err error) {
	start := 0
	for start < len(data) && (data[start] == '\n' || data[start] == '\r') {
		start++
	}
	if i := bytes.IndexAny(data[start:], "\r\n"); i >= 0 {
		return start + i + 1, data[start : start+i], nil
	}
	if atEOF && start < len(data) {
		return len(data), data[start:], nil
	}
	return start, nil, nil
}
