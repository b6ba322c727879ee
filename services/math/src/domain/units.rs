//! Physical units for expressions (`5 cm to inch`, `60 km/h to m/s`, `100 degC to degF`,
//! `1.5 GiB to MB`). A quantity keeps its number in the unit it is shown in; the unit knows its
//! dimensions (exponents of the SI base quantities plus data and angle), its scale to the base
//! unit and, for temperatures, its offset.

use std::fmt;

use super::MathError;

/// Exponents of: length, mass, time, current, temperature, amount, luminosity, data, angle.
pub type Dimensions = [i8; 9];

const NONE: Dimensions = [0; 9];
const LENGTH: Dimensions = [1, 0, 0, 0, 0, 0, 0, 0, 0];
const MASS: Dimensions = [0, 1, 0, 0, 0, 0, 0, 0, 0];
const TIME: Dimensions = [0, 0, 1, 0, 0, 0, 0, 0, 0];
const CURRENT: Dimensions = [0, 0, 0, 1, 0, 0, 0, 0, 0];
const TEMPERATURE: Dimensions = [0, 0, 0, 0, 1, 0, 0, 0, 0];
const AMOUNT: Dimensions = [0, 0, 0, 0, 0, 1, 0, 0, 0];
const DATA: Dimensions = [0, 0, 0, 0, 0, 0, 0, 1, 0];
const ANGLE: Dimensions = [0, 0, 0, 0, 0, 0, 0, 0, 1];
const AREA: Dimensions = [2, 0, 0, 0, 0, 0, 0, 0, 0];
const VOLUME: Dimensions = [3, 0, 0, 0, 0, 0, 0, 0, 0];
const SPEED: Dimensions = [1, 0, -1, 0, 0, 0, 0, 0, 0];
const FREQUENCY: Dimensions = [0, 0, -1, 0, 0, 0, 0, 0, 0];
const FORCE: Dimensions = [1, 1, -2, 0, 0, 0, 0, 0, 0];
const PRESSURE: Dimensions = [-1, 1, -2, 0, 0, 0, 0, 0, 0];
const ENERGY: Dimensions = [2, 1, -2, 0, 0, 0, 0, 0, 0];
const POWER: Dimensions = [2, 1, -3, 0, 0, 0, 0, 0, 0];
const VOLTAGE: Dimensions = [2, 1, -3, -1, 0, 0, 0, 0, 0];

const DAY: f64 = 86_400.0;
const YEAR: f64 = 365.25 * DAY;

/// (names, dimensions, scale to the base unit, offset to the base unit).
const UNITS: &[(&[&str], Dimensions, f64, f64)] = &[
    // Length (base: metre)
    (
        &["m", "meter", "meters", "metre", "metres"],
        LENGTH,
        1.0,
        0.0,
    ),
    (&["km", "kilometer", "kilometers"], LENGTH, 1e3, 0.0),
    (&["cm", "centimeter", "centimeters"], LENGTH, 1e-2, 0.0),
    (&["mm", "millimeter", "millimeters"], LENGTH, 1e-3, 0.0),
    (&["um", "micrometer", "micrometers"], LENGTH, 1e-6, 0.0),
    (&["nm", "nanometer", "nanometers"], LENGTH, 1e-9, 0.0),
    (&["inch", "inches"], LENGTH, 0.0254, 0.0),
    (&["ft", "foot", "feet"], LENGTH, 0.3048, 0.0),
    (&["yd", "yard", "yards"], LENGTH, 0.9144, 0.0),
    (&["mi", "mile", "miles"], LENGTH, 1_609.344, 0.0),
    (&["nmi"], LENGTH, 1_852.0, 0.0),
    // Area and volume
    (&["ha", "hectare", "hectares"], AREA, 1e4, 0.0),
    (&["acre", "acres"], AREA, 4_046.856_422_4, 0.0),
    (
        &["l", "L", "liter", "liters", "litre", "litres"],
        VOLUME,
        1e-3,
        0.0,
    ),
    (
        &["ml", "mL", "milliliter", "milliliters"],
        VOLUME,
        1e-6,
        0.0,
    ),
    (&["gal", "gallon", "gallons"], VOLUME, 3.785_411_784e-3, 0.0),
    (&["qt", "quart", "quarts"], VOLUME, 9.463_529_46e-4, 0.0),
    (&["pt", "pint", "pints"], VOLUME, 4.731_764_73e-4, 0.0),
    (&["cup", "cups"], VOLUME, 2.365_882_365e-4, 0.0),
    (&["floz"], VOLUME, 2.957_352_956_25e-5, 0.0),
    // Mass (base: kilogram)
    (&["kg", "kilogram", "kilograms"], MASS, 1.0, 0.0),
    (&["g", "gram", "grams"], MASS, 1e-3, 0.0),
    (&["mg", "milligram", "milligrams"], MASS, 1e-6, 0.0),
    (&["tonne", "tonnes"], MASS, 1e3, 0.0),
    (&["lb", "lbs", "pound", "pounds"], MASS, 0.453_592_37, 0.0),
    (&["oz", "ounce", "ounces"], MASS, 0.028_349_523_125, 0.0),
    (&["stone"], MASS, 6.350_293_18, 0.0),
    // Time (base: second)
    (&["s", "sec", "second", "seconds"], TIME, 1.0, 0.0),
    (&["ms", "millisecond", "milliseconds"], TIME, 1e-3, 0.0),
    (&["us", "microsecond", "microseconds"], TIME, 1e-6, 0.0),
    (&["min", "minute", "minutes"], TIME, 60.0, 0.0),
    (&["h", "hr", "hour", "hours"], TIME, 3_600.0, 0.0),
    (&["day", "days"], TIME, DAY, 0.0),
    (&["week", "weeks"], TIME, 7.0 * DAY, 0.0),
    (&["month", "months"], TIME, YEAR / 12.0, 0.0),
    (&["year", "years"], TIME, YEAR, 0.0),
    // Temperature (base: kelvin)
    (&["K", "kelvin"], TEMPERATURE, 1.0, 0.0),
    (&["degC", "celsius"], TEMPERATURE, 1.0, 273.15),
    (
        &["degF", "fahrenheit"],
        TEMPERATURE,
        5.0 / 9.0,
        459.67 * 5.0 / 9.0,
    ),
    (&["degR", "rankine"], TEMPERATURE, 5.0 / 9.0, 0.0),
    // Data (base: bit)
    (&["b", "bit", "bits"], DATA, 1.0, 0.0),
    (&["B", "byte", "bytes"], DATA, 8.0, 0.0),
    (&["kB"], DATA, 8e3, 0.0),
    (&["MB"], DATA, 8e6, 0.0),
    (&["GB"], DATA, 8e9, 0.0),
    (&["TB"], DATA, 8e12, 0.0),
    (&["PB"], DATA, 8e15, 0.0),
    (&["KiB"], DATA, 8.0 * 1_024.0, 0.0),
    (&["MiB"], DATA, 8.0 * 1_048_576.0, 0.0),
    (&["GiB"], DATA, 8.0 * 1_073_741_824.0, 0.0),
    (&["TiB"], DATA, 8.0 * 1_099_511_627_776.0, 0.0),
    (&["kbit"], DATA, 1e3, 0.0),
    (&["Mbit"], DATA, 1e6, 0.0),
    (&["Gbit"], DATA, 1e9, 0.0),
    // Angle (base: radian)
    (&["rad", "radian", "radians"], ANGLE, 1.0, 0.0),
    (
        &["deg", "degree", "degrees"],
        ANGLE,
        std::f64::consts::PI / 180.0,
        0.0,
    ),
    (&["grad"], ANGLE, std::f64::consts::PI / 200.0, 0.0),
    (&["turn", "turns"], ANGLE, std::f64::consts::TAU, 0.0),
    // Speed, frequency, force, pressure, energy, power, electricity
    (&["mph"], SPEED, 0.447_04, 0.0),
    (&["knot", "knots"], SPEED, 1_852.0 / 3_600.0, 0.0),
    (&["Hz", "hertz"], FREQUENCY, 1.0, 0.0),
    (&["kHz"], FREQUENCY, 1e3, 0.0),
    (&["MHz"], FREQUENCY, 1e6, 0.0),
    (&["GHz"], FREQUENCY, 1e9, 0.0),
    (&["N", "newton", "newtons"], FORCE, 1.0, 0.0),
    (&["Pa", "pascal"], PRESSURE, 1.0, 0.0),
    (&["kPa"], PRESSURE, 1e3, 0.0),
    (&["bar"], PRESSURE, 1e5, 0.0),
    (&["psi"], PRESSURE, 6_894.757_293_168, 0.0),
    (&["atm"], PRESSURE, 101_325.0, 0.0),
    (&["J", "joule", "joules"], ENERGY, 1.0, 0.0),
    (&["kJ"], ENERGY, 1e3, 0.0),
    (&["cal"], ENERGY, 4.184, 0.0),
    (&["kcal"], ENERGY, 4_184.0, 0.0),
    (&["Wh"], ENERGY, 3_600.0, 0.0),
    (&["kWh"], ENERGY, 3.6e6, 0.0),
    (&["W", "watt", "watts"], POWER, 1.0, 0.0),
    (&["kW"], POWER, 1e3, 0.0),
    (&["hp"], POWER, 745.699_871_582_270_2, 0.0),
    (&["A", "ampere", "amperes"], CURRENT, 1.0, 0.0),
    (&["mA"], CURRENT, 1e-3, 0.0),
    (&["V", "volt", "volts"], VOLTAGE, 1.0, 0.0),
    (&["mol"], AMOUNT, 1.0, 0.0),
];

/// A unit as shown (`km / h`) and what it means.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub dimensions: Dimensions,
    /// Base units per one of this unit.
    pub scale: f64,
    /// Added after scaling (temperatures only).
    pub offset: f64,
    /// Named parts and their powers, in order of appearance.
    pub parts: Vec<(String, i32)>,
}

/// The unit called `name`, if there is one.
pub fn lookup(name: &str) -> Option<Unit> {
    UNITS.iter().find(|(names, ..)| names.contains(&name)).map(
        |(names, dimensions, scale, offset)| Unit {
            dimensions: *dimensions,
            scale: *scale,
            offset: *offset,
            parts: vec![(names[0].to_owned(), 1)],
        },
    )
}

fn combine(a: &Dimensions, b: &Dimensions, sign: i8) -> Dimensions {
    let mut out = NONE;
    for i in 0..out.len() {
        out[i] = a[i] + sign * b[i];
    }
    out
}

impl Unit {
    /// The empty unit (what `1 / m` divides).
    pub fn one() -> Self {
        Self {
            dimensions: NONE,
            scale: 1.0,
            offset: 0.0,
            parts: Vec::new(),
        }
    }

    pub fn is_dimensionless(&self) -> bool {
        self.dimensions == NONE
    }

    /// `self · other` (`sign` 1) or `self / other` (`sign` -1); offsets do not survive.
    pub fn combine(&self, other: &Unit, sign: i8) -> Unit {
        let mut parts = self.parts.clone();
        for (name, power) in &other.parts {
            match parts.iter_mut().find(|(n, _)| n == name) {
                Some(part) => part.1 += i32::from(sign) * power,
                None => parts.push((name.clone(), i32::from(sign) * power)),
            }
        }
        parts.retain(|(_, p)| *p != 0);
        Unit {
            dimensions: combine(&self.dimensions, &other.dimensions, sign),
            scale: if sign > 0 {
                self.scale * other.scale
            } else {
                self.scale / other.scale
            },
            offset: 0.0,
            parts,
        }
    }

    pub fn powi(&self, n: i32) -> Result<Unit, MathError> {
        let mut dimensions = NONE;
        for (out, d) in dimensions.iter_mut().zip(self.dimensions) {
            *out = i8::try_from(i32::from(d) * n)
                .map_err(|_| MathError::TooComplex("unit power too large".into()))?;
        }
        Ok(Unit {
            dimensions,
            scale: self.scale.powi(n),
            offset: 0.0,
            parts: self
                .parts
                .iter()
                .map(|(name, p)| (name.clone(), p * n))
                .collect(),
        })
    }

    /// `value` of this unit in base units.
    pub fn to_base(&self, value: f64) -> f64 {
        value * self.scale + self.offset
    }

    /// `base` in this unit.
    pub fn from_base(&self, base: f64) -> f64 {
        (base - self.offset) / self.scale
    }

    /// Converts `value` of `self` into `target`, or says why not.
    pub fn convert(&self, value: f64, target: &Unit) -> Result<f64, MathError> {
        if self.dimensions != target.dimensions {
            return Err(MathError::invalid(
                "expression",
                format!("cannot convert {self} to {target}: they measure different things"),
            ));
        }
        Ok(target.from_base(self.to_base(value)))
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |(name, power): &(String, i32)| match power.abs() {
            1 => name.clone(),
            p => format!("{name}^{p}"),
        };
        let above: Vec<String> = self
            .parts
            .iter()
            .filter(|(_, p)| *p > 0)
            .map(show)
            .collect();
        let below: Vec<String> = self
            .parts
            .iter()
            .filter(|(_, p)| *p < 0)
            .map(show)
            .collect();
        let top = if above.is_empty() {
            "1".to_owned()
        } else {
            above.join(" ")
        };
        if below.is_empty() {
            f.write_str(&top)
        } else {
            write!(f, "{top} / {}", below.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(name: &str) -> Unit {
        lookup(name).unwrap()
    }

    #[test]
    fn conversions_match_nist() {
        assert!(
            (unit("cm").convert(5.0, &unit("inch")).unwrap() - 1.968_503_937_007_874).abs() < 1e-12
        );
        assert!((unit("degC").convert(100.0, &unit("degF")).unwrap() - 212.0).abs() < 1e-9);
        assert!((unit("degF").convert(32.0, &unit("K")).unwrap() - 273.15).abs() < 1e-9);
        assert_eq!(unit("GiB").convert(1.0, &unit("MiB")).unwrap(), 1_024.0);
        assert_eq!(unit("GB").convert(1.0, &unit("MB")).unwrap(), 1_000.0);
        assert_eq!(unit("byte").convert(1.0, &unit("bit")).unwrap(), 8.0);
        let kmh = unit("km").combine(&unit("h"), -1);
        let ms = unit("m").combine(&unit("s"), -1);
        assert!((kmh.convert(36.0, &ms).unwrap() - 10.0).abs() < 1e-12);
        assert_eq!(kmh.to_string(), "km / h");
        assert_eq!(unit("m").powi(2).unwrap().to_string(), "m^2");
        assert!(unit("kg").convert(1.0, &unit("m")).is_err());
    }
}
