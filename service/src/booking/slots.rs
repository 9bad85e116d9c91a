//! Slot arithmetic for booking: where a sequence of services fits one staff member's day. Pure (no storage, no
//! clock), so it is property-tested against a brute-force oracle and fast enough to run for every staff member of a
//! store over a week per request.
//!
//! Times are minutes on one axis (UTC minutes since the epoch in use; the caller converts from the store's zone, so
//! daylight-saving days simply have 23 or 25 hours of axis). A service occupies its staff member for its duration
//! plus its buffer, except during its processing window (a colour developing), when the staff member is free for
//! someone else. A service that needs a resource (a room, a bed) holds one unit of it for its whole duration.

/// A half-open interval `[start, end)` in minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    pub start: i64,
    pub end: i64,
}

impl Span {
    pub fn new(start: i64, end: i64) -> Self {
        Self { start, end }
    }

    fn overlaps(self, other: Span) -> bool {
        self.start < other.end && other.start < self.end && self.start < self.end && other.start < other.end
    }

    fn within(self, outer: Span) -> bool {
        outer.start <= self.start && self.end <= outer.end
    }
}

/// One service of the requested sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub duration: i64,
    /// Clean-up after the service, still the staff member's time.
    pub buffer: i64,
    /// `(offset from the service's start, length)`: the staff member is free meanwhile.
    pub processing: Option<(i64, i64)>,
    /// A resource (room, bed) the service needs, by index into [`Day::resources`].
    pub resource: Option<usize>,
}

/// A resource's capacity and what is already booked on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    pub capacity: u32,
    pub booked: Vec<Span>,
}

/// Everything that constrains one staff member on the requested range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Day {
    /// When the store is open (closed days have none).
    pub open: Vec<Span>,
    /// The staff member's shifts (with exceptions already applied).
    pub shifts: Vec<Span>,
    /// When the staff member is already busy (bookings' working parts, breaks, leave).
    pub busy: Vec<Span>,
    pub resources: Vec<Resource>,
}

/// What a sequence starting at a given time asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Demands {
    /// The staff member's working spans (processing windows left out).
    pub staff: Vec<Span>,
    /// Each resource (by index into [`Day::resources`]) and the span it is held.
    pub resources: Vec<(usize, Span)>,
    /// From the first start to the last buffer's end.
    pub whole: Span,
}

/// The spans a sequence starting at `start` asks of the staff member, and of each resource.
pub fn demands(steps: &[Step], start: i64) -> Demands {
    let mut staff = Vec::new();
    let mut resources = Vec::new();
    let mut at = start;
    for step in steps {
        let service = Span::new(at, at + step.duration);
        let with_buffer = Span::new(at, at + step.duration + step.buffer);
        match step.processing {
            Some((offset, length)) if offset >= 0 && length > 0 && offset + length <= step.duration => {
                staff.push(Span::new(with_buffer.start, at + offset));
                staff.push(Span::new(at + offset + length, with_buffer.end));
            }
            _ => staff.push(with_buffer),
        }
        if let Some(resource) = step.resource {
            resources.push((resource, service));
        }
        at = with_buffer.end;
    }
    staff.retain(|s| s.start < s.end);
    Demands { staff, resources, whole: Span::new(start, at) }
}

/// Whether the whole sequence fits when started at `start` (no grid): inside one opening window and one shift, clear
/// of busy time except during processing windows, within every resource's capacity.
pub fn fits(day: &Day, steps: &[Step], start: i64) -> bool {
    let Demands { staff, resources, whole } = demands(steps, start);
    if !day.open.iter().any(|open| whole.within(*open)) || !day.shifts.iter().any(|shift| whole.within(*shift)) {
        return false;
    }
    if staff.iter().any(|need| day.busy.iter().any(|busy| need.overlaps(*busy))) {
        return false;
    }
    resources.iter().all(|(index, need)| {
        let Some(resource) = day.resources.get(*index) else { return false };
        // Capacity is checked at every point where the count can change: the starts of overlapping bookings.
        let overlapping: Vec<Span> = resource.booked.iter().copied().filter(|b| b.overlaps(*need)).collect();
        let points = std::iter::once(need.start).chain(overlapping.iter().map(|b| b.start.max(need.start)));
        points.into_iter().all(|point| {
            let used = overlapping.iter().filter(|b| b.start <= point && point < b.end).count();
            u32::try_from(used).is_ok_and(|used| used < resource.capacity)
        })
    })
}

/// Every start on the `granularity` grid in `range` where the whole sequence fits: inside one opening window and one
/// shift, clear of the staff member's busy time (except during processing windows), and within every resource's
/// capacity. Ascending.
pub fn free_starts(day: &Day, steps: &[Step], range: Span, granularity: i64) -> Vec<i64> {
    if steps.is_empty() || granularity <= 0 || range.start >= range.end {
        return Vec::new();
    }
    let total: i64 = steps.iter().map(|s| s.duration + s.buffer).sum();
    // Only starts inside a shift that also leave room for the whole sequence can fit: walk those, on the grid.
    let first = range.start + (granularity - range.start.rem_euclid(granularity)) % granularity;
    let mut starts = Vec::new();
    for shift in &day.shifts {
        let from = shift.start.max(first);
        let mut at = from + (granularity - (from - first).rem_euclid(granularity)) % granularity;
        while at + total <= shift.end && at < range.end {
            if fits(day, steps, at) {
                starts.push(at);
            }
            at += granularity;
        }
    }
    starts.sort_unstable();
    starts.dedup();
    starts
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn step(duration: i64) -> Step {
        Step { duration, buffer: 0, processing: None, resource: None }
    }

    fn day() -> Day {
        Day {
            open: vec![Span::new(540, 1260)],   // 09:00–21:00
            shifts: vec![Span::new(600, 1080)], // 10:00–18:00
            busy: vec![Span::new(720, 780)],    // 12:00–13:00 booked
            resources: vec![],
        }
    }

    #[test]
    fn slots_honour_shift_opening_and_bookings() {
        let starts = free_starts(&day(), &[step(60)], Span::new(0, 1440), 30);
        assert_eq!(starts.first(), Some(&600), "not before the shift");
        assert_eq!(starts.last(), Some(&1020), "the last hour of the shift");
        assert!(!starts.contains(&690) && !starts.contains(&720) && !starts.contains(&750));
        assert!(starts.contains(&660) && starts.contains(&780));
    }

    #[test]
    fn a_processing_window_frees_the_staff_member() {
        // Colour: 90 min, developing from minute 30 for 45 min; a 45-minute cut is booked at 12:00.
        let mut d = day();
        d.busy = vec![Span::new(720, 765)];
        let colour = Step { duration: 90, buffer: 0, processing: Some((30, 45)), resource: None };
        let starts = free_starts(&d, std::slice::from_ref(&colour), Span::new(0, 1440), 30);
        assert!(starts.contains(&690), "11:30 colour develops 12:00–12:45, exactly while the cut is done");
        let without = Step { processing: None, ..colour };
        assert!(!free_starts(&d, &[without], Span::new(0, 1440), 30).contains(&690));
    }

    #[test]
    fn a_full_room_blocks_and_a_free_unit_does_not() {
        let mut d = day();
        d.busy.clear();
        d.resources = vec![Resource { capacity: 2, booked: vec![Span::new(600, 660), Span::new(630, 690)] }];
        let massage = Step { duration: 60, buffer: 0, processing: None, resource: Some(0) };
        let starts = free_starts(&d, &[massage], Span::new(600, 720), 30);
        assert_eq!(starts, vec![660, 690, 720].into_iter().filter(|s| *s < 720).collect::<Vec<_>>());
    }

    #[test]
    fn closed_days_and_empty_requests_offer_nothing() {
        let mut d = day();
        d.open.clear();
        assert!(free_starts(&d, &[step(30)], Span::new(0, 1440), 15).is_empty());
        assert!(free_starts(&day(), &[], Span::new(0, 1440), 15).is_empty());
        assert!(free_starts(&day(), &[step(30)], Span::new(0, 1440), 0).is_empty());
    }

    fn spans(max: i64) -> impl Strategy<Value = Vec<Span>> {
        prop::collection::vec((0..max, 1..240i64).prop_map(|(s, l)| Span::new(s, s + l)), 0..5)
    }

    fn steps() -> impl Strategy<Value = Vec<Step>> {
        prop::collection::vec(
            (5..120i64, 0..20i64, prop::option::of((0..60i64, 1..60i64)), prop::option::of(0..2usize))
                .prop_map(|(duration, buffer, processing, resource)| Step { duration, buffer, processing, resource }),
            1..3,
        )
    }

    proptest! {
        /// Every offered start fits (the brute-force check), and every start on the grid that fits is offered.
        #[test]
        fn offered_starts_are_exactly_the_free_ones(
            open in spans(1440),
            shifts in spans(1440),
            busy in spans(1440),
            booked in spans(1440),
            steps in steps(),
            granularity in prop::sample::select(vec![5i64, 10, 15, 30]),
        ) {
            let day = Day {
                open,
                shifts,
                busy,
                resources: vec![Resource { capacity: 1, booked: booked.clone() }, Resource { capacity: 2, booked }],
            };
            let range = Span::new(0, 1440);
            let offered = free_starts(&day, &steps, range, granularity);
            for start in (0..1440).step_by(usize::try_from(granularity).unwrap_or(5)) {
                let ok = brute_force_fits(&day, &steps, start);
                prop_assert_eq!(offered.contains(&start), ok, "start {}", start);
            }
        }
    }

    /// The oracle: minute by minute, nothing clever.
    fn brute_force_fits(day: &Day, steps: &[Step], start: i64) -> bool {
        let mut at = start;
        for step in steps {
            for minute in at..at + step.duration + step.buffer {
                let open = day.open.iter().any(|o| o.start <= start && minute < o.end && o.start <= minute);
                let shift = day.shifts.iter().any(|s| s.start <= start && minute < s.end && s.start <= minute);
                if !open || !shift {
                    return false;
                }
                let offset = minute - at;
                let developing = step
                    .processing
                    .is_some_and(|(o, l)| o >= 0 && l > 0 && o + l <= step.duration && o <= offset && offset < o + l);
                if !developing && day.busy.iter().any(|b| b.start <= minute && minute < b.end) {
                    return false;
                }
                if let Some(index) = step.resource
                    && minute < at + step.duration
                {
                    let resource = &day.resources[index];
                    let used = resource.booked.iter().filter(|b| b.start <= minute && minute < b.end).count();
                    if used >= usize::try_from(resource.capacity).unwrap_or(0) {
                        return false;
                    }
                }
            }
            at += step.duration + step.buffer;
        }
        // The whole sequence must lie in one opening window and one shift.
        let whole = Span::new(start, at);
        day.open.iter().any(|o| whole.within(*o)) && day.shifts.iter().any(|s| whole.within(*s))
    }
}
