// Command gif joins PNG frames into an animated GIF: the dashboard demo
// in the README (scripts/demo-gif.sh captures the frames from a real run
// in tmux and renders them with freeze). Terminal screenshots hold few
// colours, so the palette is the frames' most frequent ones; anti-aliased
// edges map to their nearest.
//
//	go run ./tools/gif -o docs/img/demo.gif -delay 80 frame-*.png
package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/png"
	"os"
	"path/filepath"
	"sort"
)

func main() {
	out := flag.String("o", "", "output .gif (required)")
	delay := flag.Int("delay", 100, "time per frame, hundredths of a second")
	last := flag.Int("last", 300, "time on the last frame, hundredths of a second")
	flag.Parse()
	if err := run(*out, *delay, *last, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "gif:", err)
		os.Exit(1)
	}
}

func run(out string, delay, last int, frames []string) error {
	if out == "" || len(frames) == 0 {
		return fmt.Errorf("usage: gif -o OUT.gif FRAME.png ...")
	}
	imgs := make([]image.Image, 0, len(frames))
	for _, f := range frames {
		img, err := readPNG(f)
		if err != nil {
			return err
		}
		if len(imgs) > 0 && img.Bounds() != imgs[0].Bounds() {
			return fmt.Errorf("%s is %v, the first frame %v: frames must be one size", f, img.Bounds(), imgs[0].Bounds())
		}
		imgs = append(imgs, img)
	}
	pal := palette(imgs, 256)
	anim := &gif.GIF{}
	for i, img := range imgs {
		p := image.NewPaletted(img.Bounds(), pal)
		draw.Draw(p, p.Rect, img, img.Bounds().Min, draw.Src) // nearest colour, no dithering: text stays crisp
		d := delay
		if i == len(imgs)-1 {
			d = last
		}
		anim.Image = append(anim.Image, p)
		anim.Delay = append(anim.Delay, d)
	}
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := gif.EncodeAll(f, anim); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", out, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, filepath.Clean(out))
}

func readPNG(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// palette is the n most frequent colours of the frames (sampled on a
// grid, quantised to 5 bits a channel so anti-aliasing does not split a
// colour into hundreds).
func palette(imgs []image.Image, n int) color.Palette {
	counts := map[color.RGBA]int{}
	for _, img := range imgs {
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y += 2 {
			for x := b.Min.X; x < b.Max.X; x += 2 {
				r, g, bl, _ := img.At(x, y).RGBA()
				c := color.RGBA{uint8(r>>8) &^ 7, uint8(g>>8) &^ 7, uint8(bl>>8) &^ 7, 255}
				counts[c]++
			}
		}
	}
	type kv struct {
		c color.RGBA
		n int
	}
	all := make([]kv, 0, len(counts))
	for c, k := range counts {
		all = append(all, kv{c, k})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].n != all[j].n {
			return all[i].n > all[j].n
		}
		return fmt.Sprint(all[i].c) < fmt.Sprint(all[j].c)
	})
	pal := color.Palette{}
	for _, e := range all[:min(n, len(all))] {
		pal = append(pal, e.c)
	}
	return pal
}
