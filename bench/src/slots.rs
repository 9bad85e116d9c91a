//! `cargo run --release -p bench -- slots`: slot search for a store of 30 staff over 7 days at a realistic booking
//! density, with the pure slot engine (`service::booking::slots`): the time one "anyone" search takes, p50 and p99.

use std::time::{Duration, Instant};

use rand::Rng;
use service::booking::slots::{Day, Resource, Span, Step, free_starts};

/// A week of one staff member: open 09:00–21:00, a 10:00–19:00 shift on 6 days of 7, and about `density` of the
/// shift booked with 30–90 minute appointments.
fn week(rng: &mut impl Rng, density: f64) -> Vec<Day> {
    (0..7)
        .map(|d| {
            let base = i64::from(d) * 1440;
            let works = rng.gen_range(0..7) != 0;
            let shift = Span::new(base + 600, base + 1140);
            let mut busy = Vec::new();
            let mut at = shift.start;
            while at < shift.end {
                let length = rng.gen_range(2..=6) * 15;
                if rng.gen_bool(density) {
                    busy.push(Span::new(at, at + length));
                }
                at += length;
            }
            Day {
                open: vec![Span::new(base + 540, base + 1260)],
                shifts: if works { vec![shift] } else { vec![] },
                busy,
                resources: vec![Resource { capacity: 4, booked: vec![] }],
            }
        })
        .collect()
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn bench_slots(searches: usize) {
    let mut rng = rand::thread_rng();
    let store: Vec<Vec<Day>> = (0..30).map(|_| week(&mut rng, 0.6)).collect();
    // A cut and a colour with a developing window, the second in a room.
    let steps = [
        Step { duration: 45, buffer: 10, processing: None, resource: None },
        Step { duration: 90, buffer: 0, processing: Some((30, 40)), resource: Some(0) },
    ];
    let mut times = Vec::with_capacity(searches);
    let mut offered = 0;
    for _ in 0..searches {
        let started = Instant::now();
        offered = 0;
        for staff in &store {
            for (d, day) in staff.iter().enumerate() {
                let base = i64::try_from(d).unwrap_or(0) * 1440;
                offered += free_starts(day, &steps, Span::new(base, base + 1440), 15).len();
            }
        }
        times.push(started.elapsed());
    }
    times.sort();
    println!(
        "slot search, 30 staff x 7 days, cut + colour (15-minute grid, ~60% booked): {searches} searches, p50 {:.3} ms, p99 {:.3} ms ({offered} starts offered)",
        millis(times[times.len() / 2]),
        millis(times[(times.len() * 99 / 100).min(times.len() - 1)]),
    );
}
