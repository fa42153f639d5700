package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// disks gives every node a filesystem of its own, for the disk-full and
// power-loss faults:
//
//	<out>/disks.img   sparse image, XFS (reflink=1), loop-mounted at <out>/disks
//	<out>/disks/nN.img sparse image, ext4 (-m 0), loop-mounted at <out>/fsN
//	<out>/fsN/data    node N's KAFKA_LOG_DIRS
//	<out>/disks/mN.img, <out>/metaN/data  the same, 256 MiB, for its
//	                  metadata.log.dir (the raft log): disk-full fills the data
//	                  filesystem only, power loss hits both
//
// The outer XFS exists only for FICLONE (cp --reflink=always): cloning nN.img
// takes the inode locks, writes the image's own dirty pages back and shares its
// extents, so the clone is the loop device's content at one instant: every
// write the node's ext4 completed to its device, none of the ext4 page cache
// that was still dirty. That clone, mounted in place of the live image (ext4
// replays its journal), is the node's disk after a power cut. It never loses
// what was fsynced (an fsync flushes the loop device, whose writes are in the
// image), and it loses what was not yet written back: with the default
// vm.dirty_expire_centisecs of 30 s, that is every write of the node's last
// seconds that was not fsynced. It is not the most adversarial crash (a disk
// with a volatile cache could also lose written-back, unflushed blocks).
//
// Methods are called from one goroutine at a time (setup, nemesis, teardown).
type disks struct {
	out   string
	nodes int
	size  int64 // bytes per node filesystem
	logf  func(format string, args ...any)
}

func (d *disks) outerImg() string       { return filepath.Join(d.out, "disks.img") }
func (d *disks) outerDir() string       { return filepath.Join(d.out, "disks") }
func (d *disks) img(i int) string       { return filepath.Join(d.outerDir(), fmt.Sprintf("n%d.img", i)) }
func (d *disks) mount(i int) string     { return filepath.Join(d.out, fmt.Sprintf("fs%d", i)) }
func (d *disks) metaImg(i int) string   { return filepath.Join(d.outerDir(), fmt.Sprintf("m%d.img", i)) }
func (d *disks) metaMount(i int) string { return filepath.Join(d.out, fmt.Sprintf("meta%d", i)) }

// metaDir is node i's metadata.log.dir.
func (d *disks) metaDir(i int) string { return filepath.Join(d.metaMount(i), "data") }

const metaDiskSize = 256 << 20

// dataDir is node i's log dir: a subdirectory, so that ext4's lost+found is
// not in the log dir.
func (d *disks) dataDir(i int) string { return filepath.Join(d.mount(i), "data") }

// fillFile is where disk-full puts its filler, beside (not in) the log dir.
func (d *disks) fillFile(i int) string { return filepath.Join(d.mount(i), "chaos-fill") }

func (d *disks) setup() error {
	for _, tool := range []string{"mkfs.xfs", "mkfs.ext4", "losetup", "cp"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("disk faults need %s on PATH (Debian: apt-get install xfsprogs e2fsprogs mount): %w", tool, err)
		}
	}
	d.teardown()
	steps := [][]string{
		{"truncate", "-s", fmt.Sprint(int64(d.nodes)*(d.size+metaDiskSize) + 512<<20), d.outerImg()},
		{"mkfs.xfs", "-q", "-f", "-m", "reflink=1", d.outerImg()},
		{"mkdir", "-p", d.outerDir()},
		{"mount", "-o", "loop", d.outerImg(), d.outerDir()},
	}
	for i := 1; i <= d.nodes; i++ {
		steps = append(steps,
			[]string{"truncate", "-s", fmt.Sprint(d.size), d.img(i)},
			[]string{"mkfs.ext4", "-q", "-F", "-m", "0", d.img(i)},
			[]string{"mkdir", "-p", d.mount(i)},
			[]string{"mount", "-o", "loop", d.img(i), d.mount(i)},
			[]string{"mkdir", "-p", d.dataDir(i)},
			// The log dir itself must survive a power loss.
			[]string{"sync", "-f", d.dataDir(i)},
			[]string{"truncate", "-s", fmt.Sprint(metaDiskSize), d.metaImg(i)},
			[]string{"mkfs.ext4", "-q", "-F", "-m", "0", d.metaImg(i)},
			[]string{"mkdir", "-p", d.metaMount(i)},
			[]string{"mount", "-o", "loop", d.metaImg(i), d.metaMount(i)},
			[]string{"mkdir", "-p", d.metaDir(i)},
			[]string{"sync", "-f", d.metaDir(i)},
		)
	}
	for _, s := range steps {
		if err := sh(s...); err != nil {
			return fmt.Errorf("disk setup: %w", err)
		}
	}
	return nil
}

// unmount unmounts dir and detaches the loop device behind img. The loop
// driver releases a device asynchronously, so both are retried for a while.
func unmount(dir, img string) error {
	// Poll the state (umount succeeds, or says nothing is mounted) every
	// 100 ms until a 5 s deadline.
	var err error
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(5 * time.Second); ; <-tick.C {
		if err = sh("umount", dir); err == nil || strings.Contains(err.Error(), "not mounted") || strings.Contains(err.Error(), "no mount point") {
			err = nil
			break
		}
		if time.Now().After(deadline) {
			break
		}
	}
	if out, lerr := exec.Command("losetup", "-j", img).Output(); lerr == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if dev, _, ok := strings.Cut(line, ":"); ok {
				_ = sh("losetup", "-d", dev)
			}
		}
	}
	return err
}

// teardown unmounts everything setup mounted and removes the images
// (the node logs stay). Errors are ignored: it also runs on leftovers.
func (d *disks) teardown() {
	for i := 1; i <= maxNodes; i++ {
		_ = unmount(d.mount(i), d.img(i))
		_ = unmount(d.metaMount(i), d.metaImg(i))
	}
	if err := unmount(d.outerDir(), d.outerImg()); err != nil && d.logf != nil {
		d.logf("disks: %v", err)
	}
	_ = os.Remove(d.outerImg())
}

// fill allocates every free block of node i's filesystem to a filler file;
// the node's next write that needs a block fails with ENOSPC.
func (d *disks) fill(i int) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(d.mount(i), &st); err != nil {
		return 0, err
	}
	f, err := os.OpenFile(d.fillFile(i), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	size := int64(st.Bavail) * st.Bsize
	// Extent metadata needs blocks too: shrink until it fits, then top
	// the rest up with writes until ENOSPC.
	for size > 0 {
		if err := syscall.Fallocate(int(f.Fd()), 0, 0, size); err == nil {
			break
		} else if !errors.Is(err, syscall.ENOSPC) {
			return 0, fmt.Errorf("fallocate: %w", err)
		}
		size -= 1 << 20
	}
	buf := make([]byte, 4096)
	off := size
	for {
		n, err := f.WriteAt(buf, off)
		off += int64(n)
		if err != nil {
			break
		}
	}
	return off, nil
}

// free removes the filler and makes the removal durable: a power loss
// right after must not bring the filler back (seed 3203 found that, when the
// removal was left to writeback: a disk-full then a power loss of one node left
// its disk full for good).
func (d *disks) free(i int) error {
	if err := os.Remove(d.fillFile(i)); err != nil {
		return err
	}
	return sh("sync", "-f", d.mount(i))
}

// powerLoss replaces node i's filesystems (the node must be stopped) with
// what a power cut at this instant leaves on their devices: see disks. The
// two clones are not taken at one instant, which a power cut allows too: the
// devices are independent, and what was fsynced is on both.
func (d *disks) powerLoss(i int) error {
	for _, fs := range []struct{ img, mnt string }{{d.img(i), d.mount(i)}, {d.metaImg(i), d.metaMount(i)}} {
		crash := fs.img + ".crash"
		if err := sh("cp", "--reflink=always", fs.img, crash); err != nil {
			return fmt.Errorf("power loss: clone: %w", err)
		}
		// Unmounting writes the dirty pages back, into the image that
		// is thrown away.
		if err := unmount(fs.mnt, fs.img); err != nil {
			return fmt.Errorf("power loss: %w", err)
		}
		if err := os.Rename(crash, fs.img); err != nil {
			return err
		}
		if err := sh("mount", "-o", "loop", fs.img, fs.mnt); err != nil {
			return fmt.Errorf("power loss: mount the crashed image: %w", err)
		}
	}
	return nil
}

// keep copies, from every node's log dir, the partition dirs whose names
// match pattern (a filepath.Match glob such as "chaos-txn-*") to
// out/kept/node<i>/, so that they can be read after teardown removes the
// filesystems. The nodes must be stopped. Errors are logged, not returned:
// keeping is for the post-mortem and must not stop the teardown.
func (d *disks) keep(pattern string) {
	if pattern == "" {
		return
	}
	for i := 1; i <= d.nodes; i++ {
		matches, err := filepath.Glob(filepath.Join(d.dataDir(i), pattern))
		if err != nil {
			d.logf("keep %q: %v", pattern, err)
			return
		}
		dst := filepath.Join(d.out, "kept", fmt.Sprintf("node%d", i))
		if len(matches) > 0 {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				d.logf("keep: %v", err)
				return
			}
		}
		for _, m := range matches {
			if out, err := exec.Command("cp", "-a", m, dst).CombinedOutput(); err != nil {
				d.logf("keep %s: %v: %s", m, err, out)
			}
		}
	}
}
