package main

import (
	"os"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

type pngCanvas struct {
	c  *vgimg.Canvas
	dc draw.Canvas
}

func vgimgCanvas(w, h vg.Length) pngCanvas {
	c := vgimg.New(w, h)
	return pngCanvas{c: c, dc: draw.New(c)}
}

func draw1xN(n int) draw.Tiles {
	return draw.Tiles{Rows: 1, Cols: n, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
}

func (p pngCanvas) save(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: p.c}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
