//! Plain-text tables for people (scripts use `--json`), and the times in them.

use time::OffsetDateTime;
use time::macros::format_description;

/// The rows under `header`, each column as wide as its widest cell, two spaces apart,
/// without trailing blanks.
pub(crate) fn render<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let header = header.map(str::to_owned);
    let mut widths = [0; N];
    for row in std::iter::once(&header).chain(rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        text.push_str(line.join("  ").trim_end());
        text.push('\n');
    }
    text
}

/// A cell for an optional value: the value, or `-`.
pub(crate) fn or_dash(value: Option<&str>) -> String {
    value.unwrap_or("-").to_owned()
}

/// A time to the minute, in UTC.
pub(crate) fn when(at: OffsetDateTime) -> String {
    at.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute] UTC"
    ))
    .unwrap_or_else(|_| at.to_string())
}

/// A time to the second, in UTC, for events.
pub(crate) fn when_exactly(at: OffsetDateTime) -> String {
    at.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
    ))
    .unwrap_or_else(|_| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_lines_have_no_trailing_blanks() {
        let rows = [
            ["a".to_owned(), "long cell".to_owned(), String::new()],
            ["longer".to_owned(), "b".to_owned(), String::new()],
        ];
        let text = render(["X", "Y", "Z"], &rows);
        assert_eq!(text, "X       Y          Z\na       long cell\nlonger  b\n");
    }
}
