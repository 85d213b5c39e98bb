package plotfile

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode"
)

// writeCSV writes the long format: "series,XLabel,YLabel", then one
// name,x,y row per point.
func writeCSV(w io.Writer, f Figure) error {
	bw := bufio.NewWriter(w)
	cw := csv.NewWriter(bw)
	xl, yl := f.XLabel, f.YLabel
	if xl == "" {
		xl = "x"
	}
	if yl == "" {
		yl = "y"
	}
	if err := cw.Write([]string{"series", xl, yl}); err != nil {
		return err
	}
	for _, s := range f.Series {
		for i := range s.X {
			if err := cw.Write([]string{s.Name, num(s.X[i]), num(s.Y[i])}); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

func num(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// checkText refuses control characters in names and labels: they mean
// nothing on a chart, and encoding/csv does not keep a carriage return in
// a quoted field, so such a file would not read back as written.
func checkText(s string) error {
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("has a control character (%U)", r)
		}
	}
	return nil
}

// ReadCSV reads what Write writes for a .csv file: the axis labels from the
// header and the series in the order their names first appear.
func ReadCSV(r io.Reader) (Figure, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 3
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return Figure{}, errors.New("empty file: want a header series,X,Y")
	}
	if err != nil {
		return Figure{}, err
	}
	if header[0] != "series" {
		return Figure{}, fmt.Errorf("line 1: header starts with %q, want series", header[0])
	}
	for _, label := range header[1:] {
		if err := checkText(label); err != nil {
			return Figure{}, fmt.Errorf("line 1: axis label %q %v", label, err)
		}
	}
	f := Figure{XLabel: header[1], YLabel: header[2]}
	index := map[string]int{}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return f, nil
		}
		if err != nil {
			return Figure{}, err
		}
		x, err := strconv.ParseFloat(rec[1], 64)
		if err != nil {
			return Figure{}, fmt.Errorf("line %d: x %q is not a number", line, rec[1])
		}
		y, err := strconv.ParseFloat(rec[2], 64)
		if err != nil {
			return Figure{}, fmt.Errorf("line %d: y %q is not a number", line, rec[2])
		}
		if err := checkText(rec[0]); err != nil {
			return Figure{}, fmt.Errorf("line %d: series name %q %v", line, rec[0], err)
		}
		i, ok := index[rec[0]]
		if !ok {
			i = len(f.Series)
			index[rec[0]] = i
			f.Series = append(f.Series, Series{Name: rec[0]})
		}
		f.Series[i].X = append(f.Series[i].X, x)
		f.Series[i].Y = append(f.Series[i].Y, y)
	}
}
