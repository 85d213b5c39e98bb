package cuda

import "testing"

// CountDevices answers from the driver alone: without one it says so, as
// Available does; with one it agrees with Probe's device list.
func TestCountDevices(t *testing.T) {
	n, err := CountDevices()
	if _, derr := loadDriver(); derr != nil {
		if err == nil || n != 0 || err.Error() != derr.Error() {
			t.Fatalf("no driver: CountDevices() = %d, %v; want 0 and %q", n, err, derr)
		}
		return
	}
	if err != nil {
		t.Skipf("driver present but cuInit fails here: %v", err)
	}
	if got := len(Probe().Devices); got != n {
		t.Errorf("CountDevices() = %d, Probe lists %d devices", n, got)
	}
}
