//! A plain-text table for readable command output: a header row, left-aligned columns
//! separated by two spaces, the last column unpadded.

use std::fmt::Write as _;

/// Rows of cells under a header; [`Table::render`] aligns the columns.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub(crate) fn new(headers: &[&str]) -> Table {
        Table {
            rows: vec![headers.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    /// Appends one row; missing cells render empty, extra cells are kept.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text, one line per row, each ending in a newline.
    pub(crate) fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0usize; columns];
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (index, width) in widths.iter().enumerate() {
                let cell = row.get(index).map_or("", String::as_str);
                if index + 1 == columns {
                    line.push_str(cell);
                } else {
                    let _ = write!(line, "{cell:<width$}  ");
                }
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        out
    }
}

/// Two-column "key: value" lines for one object, keys aligned.
pub(crate) fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        + 1;
    let mut out = String::new();
    for (key, value) in pairs {
        let label = format!("{key}:");
        let _ = writeln!(out, "{label:<width$} {value}");
    }
    out
}

/// An optional value as text, `-` when absent.
pub(crate) fn opt<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_last_is_unpadded() {
        let mut table = Table::new(&["ID", "NAME"]);
        table.row(vec!["a-long-id".to_owned(), "x".to_owned()]);
        table.row(vec!["b".to_owned()]);
        assert_eq!(table.render(), "ID         NAME\na-long-id  x\nb\n");
    }

    #[test]
    fn fields_align_keys() {
        let text = fields(&[("id", "1".to_owned()), ("name", "n".to_owned())]);
        assert_eq!(text, "id:   1\nname: n\n");
    }
}
