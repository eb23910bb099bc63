//! Captions: several differently worded descriptions of a generated clip, built from what was
//! actually generated (time of day, weather, road layout and lanes, the ego's manoeuvre and why it
//! stops, notable vehicles, parked cars, pedestrians, buildings and trees).
//!
//! Each caption uses its own sentence structure (scene-first, action-first, terse list) and
//! picks among synonyms with the world's caption stream, so captions vary across seeds but are
//! identical for the same seed.

use crate::generate::{Choices, Design, StopCause};
use crate::rng::Rng;
use crate::scenery::Scenery;
use crate::traffic::{Notable, Relation, Traffic, VehicleKind};
use crate::world::{Manoeuvre, RoadLayout, TimeOfDay, Weather};

/// The facts captions are written from.
#[derive(Debug, Clone)]
pub(crate) struct CaptionFacts {
    pub time_of_day: TimeOfDay,
    pub weather: Weather,
    pub layout: RoadLayout,
    pub lanes: u32,
    pub manoeuvre: Manoeuvre,
    pub stop_cause: Option<StopCause>,
    /// +1 left, -1 right.
    pub curve: Option<f64>,
    pub lead: Option<Notable>,
    pub large: Vec<Notable>,
    pub density: usize,
    pub parked: usize,
    pub walkers: usize,
    pub crossers: usize,
    pub tall_buildings: bool,
    pub buildings: usize,
    pub trees: usize,
}

impl CaptionFacts {
    pub fn new(ch: &Choices, design: &Design, traffic: &Traffic, scenery: &Scenery) -> Self {
        let lead = traffic
            .notables
            .iter()
            .filter(|n| matches!(n.relation, Relation::Lead | Relation::Ahead) && n.distance_m < 60.0)
            .min_by(|a, b| a.distance_m.total_cmp(&b.distance_m))
            .cloned();
        let mut large: Vec<Notable> = traffic
            .notables
            .iter()
            .filter(|n| matches!(n.kind, VehicleKind::Bus | VehicleKind::Truck) && n.relation != Relation::Parked && n.distance_m < 120.0)
            .cloned()
            .collect();
        large.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m));
        large.truncate(2);
        Self {
            time_of_day: ch.time_of_day,
            weather: ch.weather,
            layout: ch.layout,
            lanes: ch.lanes,
            manoeuvre: ch.manoeuvre,
            stop_cause: design.stop_cause,
            curve: design.first_curve,
            lead,
            large,
            density: traffic.density,
            parked: traffic.parked,
            walkers: traffic.walkers,
            crossers: traffic.crossers,
            tall_buildings: scenery.tallest_m > 25.0,
            buildings: scenery.buildings,
            trees: scenery.trees,
        }
    }
}

fn pick<'a>(rng: &mut Rng, options: &[&'a str]) -> &'a str {
    options[rng.index(options.len())]
}

fn number(n: u32) -> &'static str {
    match n {
        1 => "one",
        2 => "two",
        3 => "three",
        _ => "four",
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u', 'A', 'E', 'I', 'O', 'U']) {
        "an"
    } else {
        "a"
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn when(f: &CaptionFacts, rng: &mut Rng) -> &'static str {
    match f.time_of_day {
        TimeOfDay::Morning => pick(rng, &["in the morning", "on an early morning", "in morning light"]),
        TimeOfDay::Noon => pick(rng, &["at noon", "around midday", "in the middle of the day"]),
        TimeOfDay::Afternoon => pick(rng, &["in the afternoon", "on a late afternoon", "during the afternoon"]),
        TimeOfDay::Dusk => pick(rng, &["at dusk", "at sunset", "as the sun sets"]),
    }
}

fn weather_adj(f: &CaptionFacts, rng: &mut Rng) -> &'static str {
    match (f.weather, f.time_of_day) {
        (Weather::Clear, TimeOfDay::Dusk) => pick(rng, &["clear", "cloudless"]),
        (Weather::Clear, _) => pick(rng, &["sunny", "clear", "bright"]),
        (Weather::Overcast, _) => pick(rng, &["overcast", "cloudy", "grey"]),
        (Weather::Fog, _) => pick(rng, &["foggy", "misty", "hazy"]),
        (Weather::Rain, _) => pick(rng, &["rainy", "wet", "drizzly"]),
    }
}

fn weather_clause(f: &CaptionFacts, rng: &mut Rng) -> &'static str {
    match f.weather {
        Weather::Clear => pick(rng, &["under a clear sky", "in clear weather", "with good visibility"]),
        Weather::Overcast => pick(rng, &["under an overcast sky", "under heavy cloud", "in flat, grey light"]),
        Weather::Fog => pick(rng, &["in thick fog", "in fog that hides the distance", "with fog reducing visibility"]),
        Weather::Rain => pick(rng, &["in the rain, on wet asphalt", "on rain-soaked roads", "in light rain"]),
    }
}

fn tod_noun(f: &CaptionFacts) -> &'static str {
    match f.time_of_day {
        TimeOfDay::Morning => "morning",
        TimeOfDay::Noon => "midday",
        TimeOfDay::Afternoon => "afternoon",
        TimeOfDay::Dusk => "dusk",
    }
}

fn road_phrase(f: &CaptionFacts, rng: &mut Rng) -> String {
    let street = if f.buildings > 10 { pick(rng, &["city street", "urban road", "downtown street"]) } else { pick(rng, &["road", "suburban street", "street"]) };
    match f.layout {
        RoadLayout::Straight => format!("{} {street}", pick(rng, &["a straight", "a long, straight", "a straight stretch of"])),
        RoadLayout::Curved => {
            let side = match f.curve {
                Some(c) if c > 0.0 => "left",
                _ => "right",
            };
            format!("{} {street} that bends to the {side}", pick(rng, &["a curving", "a winding", "a gently curving"]))
        }
        RoadLayout::Intersection => format!("{} four-way intersection", pick(rng, &["a", "a signalised", "a busy"])),
    }
}

fn lanes_phrase(f: &CaptionFacts, rng: &mut Rng) -> String {
    if f.lanes == 1 {
        pick(rng, &["one lane in each direction", "a single lane each way", "one lane per direction"]).to_string()
    } else {
        format!("{} lanes {}", number(f.lanes), pick(rng, &["in each direction", "each way", "per direction"]))
    }
}

fn vehicle_phrase(n: &Notable) -> String {
    let desc = format!("{} {}", n.colour, n.kind.noun());
    format!("{} {desc}", article(&desc))
}

/// What the ego does, as a verb phrase ("turns left at the intersection").
fn action(f: &CaptionFacts, rng: &mut Rng) -> String {
    match f.manoeuvre {
        Manoeuvre::Cruise => pick(rng, &["drives straight ahead at a steady speed", "cruises along", "keeps its lane at a steady pace"]).to_string(),
        Manoeuvre::TurnLeft => pick(rng, &["turns left onto the cross street", "makes a left turn at the crossing", "slows for the corner, then turns left"]).to_string(),
        Manoeuvre::TurnRight => pick(rng, &["turns right onto the cross street", "makes a right turn at the crossing", "slows for the corner, then turns right"]).to_string(),
        Manoeuvre::LaneChangeLeft => pick(rng, &["changes into the left lane", "moves over one lane to the left", "signals and merges into the lane on its left"]).to_string(),
        Manoeuvre::LaneChangeRight => pick(rng, &["changes into the right lane", "moves over one lane to the right", "merges into the lane on its right"]).to_string(),
        Manoeuvre::StopAndGo => {
            let why = match f.stop_cause {
                Some(StopCause::LeadCar) => match &f.lead {
                    Some(l) if l.relation == Relation::Lead => format!("behind {} that has stopped", vehicle_phrase(l)),
                    _ => "behind a stopped car".to_string(),
                },
                Some(StopCause::RedLight) => pick(rng, &["at a red light", "at the stop line of the intersection", "for the traffic light"]).to_string(),
                _ => pick(rng, &["at a pedestrian crossing", "before a crosswalk", "at the zebra crossing"]).to_string(),
            };
            format!("{} {why}, {}", pick(rng, &["slows to a stop", "brakes to a halt", "comes to a stop"]), pick(rng, &["waits, then pulls away again", "waits a moment, then drives on", "then accelerates again"]))
        }
    }
}

fn notable_sentence(f: &CaptionFacts, rng: &mut Rng) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(l) = &f.lead {
        if l.relation != Relation::Lead || f.stop_cause != Some(StopCause::LeadCar) {
            parts.push(format!("{} {}", vehicle_phrase(l), pick(rng, &["drives ahead", "is ahead in traffic", "leads the way"])));
        }
    }
    for n in &f.large {
        if f.lead.as_ref().is_some_and(|l| l == n) {
            continue;
        }
        let where_ = match n.relation {
            Relation::Oncoming => pick(rng, &["comes the other way", "passes in the oncoming lanes"]),
            Relation::Cross => pick(rng, &["is on the cross street", "waits on the cross street"]),
            Relation::Behind => pick(rng, &["follows behind", "is behind the ego car"]),
            _ => pick(rng, &["is ahead", "drives in a neighbouring lane"]),
        };
        parts.push(format!("{} {where_}", vehicle_phrase(n)));
    }
    let sentence = match parts.len() {
        0 => return None,
        1 => parts.remove(0),
        n => format!("{} and {}", parts[..n - 1].join(", "), parts[n - 1]),
    };
    Some(capitalise(&sentence) + ".")
}

fn people_sentence(f: &CaptionFacts, rng: &mut Rng) -> Option<String> {
    match (f.walkers > 0, f.crossers > 0) {
        (_, true) => Some(pick(rng, &["Pedestrians cross at the crosswalk.", "People walk across the zebra crossing.", "A few pedestrians use the crosswalk."]).to_string()),
        (true, false) => Some(pick(rng, &["Pedestrians walk along the sidewalks.", "People stroll on the sidewalks.", "A few pedestrians are on the sidewalks."]).to_string()),
        _ => None,
    }
}

fn scenery_phrase(f: &CaptionFacts, rng: &mut Rng) -> String {
    let mut bits = Vec::new();
    bits.push(if f.tall_buildings { pick(rng, &["high-rise buildings", "tall buildings", "office towers"]) } else { pick(rng, &["low-rise buildings", "houses and shops", "low buildings"]) });
    if f.trees > 5 {
        bits.push(pick(rng, &["street trees", "trees along the sidewalks", "a row of trees"]));
    }
    if f.parked > 0 {
        bits.push(pick(rng, &["parked cars along the curb", "cars parked at the roadside", "a row of parked cars"]));
    }
    match bits.len() {
        1 => bits[0].to_string(),
        2 => format!("{} and {}", bits[0], bits[1]),
        _ => format!("{}, {} and {}", bits[0], bits[1], bits[2]),
    }
}

/// Three captions of the same clip with different structure and wording.
pub(crate) fn captions(f: &CaptionFacts, rng: &mut Rng) -> Vec<String> {
    // 1: scene first.
    let verb = match f.layout {
        RoadLayout::Intersection => pick(rng, &["approaches", "comes up to", "drives towards"]),
        _ => pick(rng, &["travels along", "follows", "makes its way along"]),
    };
    let mut c1 = format!(
        "{} {} {}, the ego car {verb} {} with {} and {}.",
        pick(rng, &["Driving", "Filmed from the car", "Recorded"]),
        when(f, rng),
        weather_clause(f, rng),
        road_phrase(f, rng),
        lanes_phrase(f, rng),
        action(f, rng)
    );
    for s in [notable_sentence(f, rng), people_sentence(f, rng)].into_iter().flatten() {
        c1.push(' ');
        c1.push_str(&s);
    }
    // 2: atmosphere, road and surroundings, then the action.
    let adj = weather_adj(f, rng);
    let noun = pick(rng, &["drive", "scene", "commute"]);
    let opening = if f.time_of_day == TimeOfDay::Dusk {
        format!("{} {adj} {noun} at dusk", capitalise(article(adj)))
    } else {
        format!("{} {adj} {} {noun}", capitalise(article(adj)), tod_noun(f))
    };
    let mut c2 = format!(
        "{opening} on {} with {}, lined with {}. {} {}.",
        road_phrase(f, rng),
        lanes_phrase(f, rng),
        scenery_phrase(f, rng),
        pick(rng, &["The vehicle", "The camera car", "The ego vehicle"]),
        action(f, rng)
    );
    if let Some(s) = people_sentence(f, rng) {
        c2.push(' ');
        c2.push_str(&s);
    }
    // 3: terse, list-like.
    let road = match f.layout {
        RoadLayout::Straight => "straight road",
        RoadLayout::Curved => "curved road",
        RoadLayout::Intersection => "intersection",
    };
    let mut c3 = format!("{}, {}, {}, {}. Ego {}.", capitalise(road), lanes_phrase(f, rng), tod_noun(f), weather_adj(f, rng), action(f, rng));
    let traffic = ["light traffic", "moderate traffic", "heavy traffic"][f.density.min(2)];
    c3.push_str(&format!(" {}", capitalise(traffic)));
    if let Some(n) = f.large.first() {
        c3.push_str(&format!(", including {}", vehicle_phrase(n)));
    }
    c3.push('.');
    if f.walkers + f.crossers > 0 {
        c3.push_str(&format!(" {} pedestrian{}.", f.walkers + f.crossers, if f.walkers + f.crossers == 1 { "" } else { "s" }));
    }
    vec![c1, c2, c3]
}
