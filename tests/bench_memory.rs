//! The memory probe sees a second copy: resident memory is process-wide, so this test lives alone
//! in its own test binary (parallel tests in one process would move the baseline).

use xlatrain::bench::measure_peak;

#[test]
fn an_allocation_that_is_touched_shows_as_anonymous_memory() {
    let (_, idle) = measure_peak(|| std::hint::black_box(1 + 1));
    assert!(idle.anon_extra_bytes < 16 << 20, "{idle:?}");
    let size = 64 << 20;
    let (kept, peak) = measure_peak(|| {
        let v = vec![1u8; size];
        std::hint::black_box(v)
    });
    assert_eq!(kept.len(), size);
    assert!(
        peak.anon_extra_bytes >= size as u64 / 2,
        "anon peak {} for a {size}-byte buffer",
        peak.anon_extra_bytes
    );
    if let Some(hwm) = peak.hwm_extra_bytes {
        assert!(hwm >= size as u64 / 2, "hwm extra {hwm}");
    }
}
