//! XLSX workbooks: read one sheet (by name or position, optionally a range) into records, and
//! write records into one or several sheets.
//!
//! Cells are read one at a time (calamine's cell reader), never as calamine's dense range: a
//! hostile sheet with cells at A1 and XFD1048576 would otherwise allocate every cell between.
//! Dates become ISO 8601 text; whole numbers become integers.

use std::collections::BTreeMap;
use std::io::Cursor;

use calamine::{DataRef, Reader, Xlsx};
use serde_json::{Map, Value};

use super::{DataError, Result};

/// Most cells read from one sheet.
pub const MAX_CELLS: usize = 5_000_000;
/// Excel's own row limit.
const MAX_ROWS: usize = 1_048_576;
/// Excel's own longest cell text.
const MAX_CELL_TEXT: usize = 32_767;

/// Which sheet, and which part of it.
#[derive(Debug, Clone, Default)]
pub struct SheetOptions {
    /// A sheet's name (default: the first sheet).
    pub sheet: Option<String>,
    /// Or its position, from 0.
    pub sheet_index: Option<usize>,
    /// An A1 range such as `B2:F100` (default: every used cell).
    pub range: Option<String>,
    /// The first row names the columns (default); without it rows are arrays.
    pub header: bool,
}

/// A cell range, 0-based and inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Area {
    first: (u32, u32),
    last: (u32, u32),
}

/// `C` → 2, `AA` → 26.
fn column_index(letters: &str) -> Option<u32> {
    if letters.is_empty() || letters.len() > 3 {
        return None;
    }
    letters
        .chars()
        .try_fold(0u32, |n, c| {
            c.is_ascii_alphabetic()
                .then(|| n * 26 + (c.to_ascii_uppercase() as u32 - 'A' as u32 + 1))
        })
        .map(|n| n - 1)
}

/// 2 → `C`.
fn column_name(mut index: u32) -> String {
    let mut name = Vec::new();
    loop {
        name.push((b'A' + (index % 26) as u8) as char);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    name.iter().rev().collect()
}

fn cell_reference(text: &str) -> Option<(u32, u32)> {
    let split = text.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = text.split_at(split);
    let row: u32 = digits.parse().ok()?;
    Some((row.checked_sub(1)?, column_index(letters)?))
}

fn parse_area(range: &str) -> Result<Area> {
    let bad = || DataError::Invalid {
        field: "range".into(),
        message: format!("`{range}` is not an A1 range such as B2:F100"),
    };
    let range = range.trim().replace('$', "");
    let (first, last) = range.split_once(':').unwrap_or((&range, &range));
    let first = cell_reference(first).ok_or_else(bad)?;
    let last = cell_reference(last).ok_or_else(bad)?;
    if first.0 > last.0 || first.1 > last.1 {
        return Err(bad());
    }
    Ok(Area { first, last })
}

fn corrupt(error: impl std::fmt::Display) -> DataError {
    DataError::Malformed(format!("XLSX: {error}"))
}

/// The sheet's cells as records (or rows), empty rows left out.
pub fn read(bytes: &[u8], options: &SheetOptions) -> Result<Value> {
    let area = options.range.as_deref().map(parse_area).transpose()?;
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(corrupt)?;
    let names = workbook.sheet_names();
    let name = match (&options.sheet, options.sheet_index) {
        (Some(name), _) => {
            names
                .iter()
                .find(|n| *n == name)
                .cloned()
                .ok_or_else(|| DataError::Invalid {
                    field: "sheet".into(),
                    message: format!("no sheet `{name}`; the workbook has {names:?}"),
                })?
        }
        (None, index) => {
            names
                .get(index.unwrap_or(0))
                .cloned()
                .ok_or_else(|| DataError::Invalid {
                    field: "sheetIndex".into(),
                    message: format!("the workbook has {} sheets", names.len()),
                })?
        }
    };
    let mut reader = workbook.worksheet_cells_reader(&name).map_err(corrupt)?;
    let mut rows: BTreeMap<u32, Vec<(u32, Value)>> = BTreeMap::new();
    let mut cells = 0usize;
    while let Some(cell) = reader.next_cell().map_err(corrupt)? {
        let (row, column) = cell.get_position();
        let outside = area.is_some_and(|a| {
            row < a.first.0 || row > a.last.0 || column < a.first.1 || column > a.last.1
        });
        if outside {
            continue;
        }
        let value = cell_value(cell.get_value());
        if value.is_null() {
            continue;
        }
        cells += 1;
        if cells > MAX_CELLS {
            return Err(DataError::TooComplex(format!(
                "the sheet has over {MAX_CELLS} cells"
            )));
        }
        rows.entry(row).or_default().push((column, value));
    }
    let first_column = area.map_or_else(
        || {
            rows.values()
                .flat_map(|cells| cells.iter().map(|(c, _)| *c))
                .min()
                .unwrap_or(0)
        },
        |a| a.first.1,
    );
    let last_column = rows
        .values()
        .flat_map(|cells| cells.iter().map(|(c, _)| *c))
        .max()
        .unwrap_or(0)
        .max(first_column);
    let width = (last_column - first_column + 1) as usize;
    let mut rows = rows.into_values().map(|cells| {
        let mut row = vec![Value::Null; width];
        for (column, value) in cells {
            row[(column - first_column) as usize] = value;
        }
        row
    });
    if !options.header {
        return Ok(Value::Array(rows.map(Value::Array).collect()));
    }
    let Some(header) = rows.next() else {
        return Ok(Value::Array(Vec::new()));
    };
    let names: Vec<String> = header
        .into_iter()
        .enumerate()
        .map(|(i, cell)| match cell {
            Value::Null => column_name(first_column + i as u32),
            Value::String(s) => s,
            other => other.to_string(),
        })
        .collect();
    Ok(Value::Array(
        rows.map(|row| {
            Value::Object(
                names
                    .iter()
                    .cloned()
                    .zip(row)
                    .collect::<Map<String, Value>>(),
            )
        })
        .collect(),
    ))
}

fn cell_value(data: &DataRef<'_>) -> Value {
    match data {
        DataRef::Int(i) => Value::from(*i),
        DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(*f as i64),
        DataRef::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        DataRef::String(s) => Value::String(s.clone()),
        DataRef::SharedString(s) => Value::String((*s).to_owned()),
        DataRef::Bool(b) => Value::Bool(*b),
        DataRef::DateTime(datetime) => {
            let (year, month, day, hour, minute, second, milli) = datetime.to_ymd_hms_milli();
            if datetime.is_duration() {
                Value::from(datetime.as_f64())
            } else if (hour, minute, second, milli) == (0, 0, 0, 0) {
                Value::String(format!("{year:04}-{month:02}-{day:02}"))
            } else if milli == 0 {
                Value::String(format!(
                    "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}"
                ))
            } else {
                Value::String(format!(
                    "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}"
                ))
            }
        }
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Value::String(s.clone()),
        DataRef::Error(e) => Value::String(e.to_string()),
        DataRef::Empty => Value::Null,
    }
}

/// The sheets `value` describes: an array of records (or rows) is one sheet named `Sheet1`;
/// an object whose every field is an array is one sheet per field.
pub fn sheets_of(value: &Value) -> Result<Vec<(String, &[Value])>> {
    match value {
        Value::Array(rows) => Ok(vec![("Sheet1".to_owned(), rows.as_slice())]),
        Value::Object(map) if !map.is_empty() && map.values().all(Value::is_array) => Ok(map
            .iter()
            .map(|(name, rows)| (name.clone(), rows.as_array().map_or(&[][..], Vec::as_slice)))
            .collect()),
        Value::Object(_) => Ok(vec![("Sheet1".to_owned(), std::slice::from_ref(value))]),
        _ => Err(DataError::Invalid {
            field: "data".into(),
            message: "XLSX needs an array of records, or an object of sheet name → records".into(),
        }),
    }
}

/// A workbook with one sheet per entry: records get a bold header row of every field (in order
/// of first appearance); arrays are written as rows.
pub fn write(value: &Value) -> Result<Vec<u8>> {
    let failed = |e: rust_xlsxwriter::XlsxError| DataError::Invalid {
        field: "data".into(),
        message: format!("cannot be written as XLSX: {e}"),
    };
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (name, rows) in sheets_of(value)? {
        if rows.len() + 1 > MAX_ROWS {
            return Err(DataError::Invalid {
                field: "data".into(),
                message: format!("sheet `{name}` has more rows than XLSX allows ({MAX_ROWS})"),
            });
        }
        let sheet = workbook.add_worksheet();
        sheet.set_name(&name).map_err(failed)?;
        let columns = super::formats::columns(rows);
        if columns.len() > 16_384 {
            return Err(DataError::Invalid {
                field: "data".into(),
                message: format!("sheet `{name}` has more columns than XLSX allows (16384)"),
            });
        }
        let header = usize::from(!columns.is_empty());
        for (c, column) in columns.iter().enumerate() {
            sheet
                .write_string_with_format(0, c as u16, *column, &bold)
                .map_err(failed)?;
        }
        for (r, row) in rows.iter().enumerate() {
            let r = (r + header) as u32;
            let cells: Vec<&Value> = match row {
                Value::Object(record) => columns
                    .iter()
                    .map(|c| record.get(*c).unwrap_or(&Value::Null))
                    .collect(),
                Value::Array(cells) => cells.iter().collect(),
                other => vec![other],
            };
            for (c, cell) in cells.into_iter().enumerate() {
                let c = u16::try_from(c).map_err(|_| DataError::Invalid {
                    field: "data".into(),
                    message: "a row has more cells than XLSX allows (16384)".into(),
                })?;
                match cell {
                    Value::Null => {}
                    Value::Bool(b) => {
                        sheet.write_boolean(r, c, *b).map_err(failed)?;
                    }
                    Value::Number(n) => {
                        sheet
                            .write_number(r, c, n.as_f64().unwrap_or(f64::NAN))
                            .map_err(failed)?;
                    }
                    Value::String(s) if s.chars().count() > MAX_CELL_TEXT => {
                        return Err(DataError::Invalid {
                            field: "data".into(),
                            message: format!(
                                "a cell of sheet `{name}` has over {MAX_CELL_TEXT} characters"
                            ),
                        });
                    }
                    Value::String(s) => {
                        sheet.write_string(r, c, s).map_err(failed)?;
                    }
                    nested => {
                        sheet
                            .write_string(r, c, nested.to_string())
                            .map_err(failed)?;
                    }
                }
            }
        }
    }
    workbook.save_to_buffer().map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn header() -> SheetOptions {
        SheetOptions {
            header: true,
            ..SheetOptions::default()
        }
    }

    #[test]
    fn columns_and_ranges() {
        assert_eq!(column_index("A"), Some(0));
        assert_eq!(column_index("Z"), Some(25));
        assert_eq!(column_index("AA"), Some(26));
        assert_eq!(column_index("XFD"), Some(16_383));
        for i in [0, 25, 26, 701, 702, 16_383] {
            assert_eq!(column_index(&column_name(i)), Some(i));
        }
        assert_eq!(
            parse_area("$B$2:D10").unwrap(),
            Area {
                first: (1, 1),
                last: (9, 3)
            }
        );
        assert!(parse_area("D10:B2").is_err());
        assert!(parse_area("nonsense").is_err());
    }

    #[test]
    fn write_then_read_every_sheet() {
        let data = json!({
            "orders": [
                {"sku": "A-1", "qty": 12, "price": 9.5, "paid": true},
                {"sku": "B-2", "qty": 0, "note": "rush"}
            ],
            "totals": [{"qty": 12}]
        });
        let bytes = write(&data).unwrap();
        assert_eq!(&bytes[..2], b"PK", "a zip container");
        let orders = read(&bytes, &header()).unwrap();
        assert_eq!(
            orders,
            json!([
                {"sku": "A-1", "qty": 12, "price": 9.5, "paid": true, "note": null},
                {"sku": "B-2", "qty": 0, "price": null, "paid": null, "note": "rush"}
            ])
        );
        let totals = read(
            &bytes,
            &SheetOptions {
                sheet: Some("totals".into()),
                ..header()
            },
        )
        .unwrap();
        assert_eq!(totals, json!([{"qty": 12}]));
        let by_index = read(
            &bytes,
            &SheetOptions {
                sheet_index: Some(1),
                ..header()
            },
        )
        .unwrap();
        assert_eq!(by_index, totals);
        let part = read(
            &bytes,
            &SheetOptions {
                range: Some("B2:C3".into()),
                header: false,
                ..SheetOptions::default()
            },
        )
        .unwrap();
        assert_eq!(part, json!([[12, 9.5], [0, null]]));
    }

    #[test]
    fn missing_sheets_and_corrupt_files() {
        let bytes = write(&json!([{"a": 1}])).unwrap();
        match read(
            &bytes,
            &SheetOptions {
                sheet: Some("nope".into()),
                ..header()
            },
        ) {
            Err(DataError::Invalid { field, message }) => {
                assert_eq!(field, "sheet");
                assert!(message.contains("Sheet1"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            read(b"not a zip", &header()),
            Err(DataError::Malformed(_))
        ));
        assert!(matches!(
            read(&bytes[..bytes.len() / 2], &header()),
            Err(DataError::Malformed(_))
        ));
    }
}
