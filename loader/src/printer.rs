//! Turns raw records into output lines: text columns or one JSON object per line.

use std::io::Write;

use crate::{FormatCtx, Layout, LoadError};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Aligned columns with a header, like bcc's tools.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
    /// Stack profiles as folded stacks (`comm;outer;…;inner COUNT`, for flame graph tools);
    /// everything else as [`Format::Text`].
    Folded,
}

/// Writes decoded records and tables to one output, counting what it saw.
pub struct Printer<'w> {
    out: &'w mut dyn Write,
    format: Format,
    ctx: FormatCtx,
    line: String,
    /// Records decoded and written.
    pub events: u64,
    /// Records the kernel dropped (perf buffers report this; full ring buffers drop silently).
    pub lost: u64,
    /// Records that did not decode (shorter than their type).
    pub bad: u64,
    error: Option<std::io::Error>,
}

impl<'w> Printer<'w> {
    /// A printer writing to `out`; timestamps are relative to `ctx.start_mono_ns`.
    pub fn new(out: &'w mut dyn Write, format: Format, ctx: FormatCtx) -> Printer<'w> {
        Printer {
            out,
            format,
            ctx,
            line: String::with_capacity(512),
            events: 0,
            lost: 0,
            bad: 0,
            error: None,
        }
    }

    /// The output format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Writes the column header for `layout` (text format only).
    pub fn header(&mut self, layout: &Layout) {
        if self.format != Format::Json {
            self.line.clear();
            layout.write_header(&mut self.line);
            self.line.push('\n');
            self.emit();
        }
    }

    /// Decodes and writes one record.
    pub fn record(&mut self, layout: &Layout, data: &[u8]) {
        self.line.clear();
        let r = match self.format {
            Format::Text | Format::Folded => layout.write_text(data, &self.ctx, &mut self.line),
            Format::Json => layout.write_json(data, &self.ctx, &mut self.line),
        };
        if r.is_err() {
            self.bad += 1;
            return;
        }
        self.line.push('\n');
        self.events += 1;
        self.emit();
    }

    /// Writes a record whose type is unknown as hex.
    pub fn raw(&mut self, map: &str, data: &[u8]) {
        use std::fmt::Write as _;
        self.line.clear();
        match self.format {
            Format::Text | Format::Folded => {
                let _ = write!(self.line, "{map}: ");
            }
            Format::Json => {
                let _ = write!(self.line, "{{\"map\":\"{map}\",\"hex\":\"");
            }
        }
        for b in data {
            let _ = write!(self.line, "{b:02x}");
        }
        if self.format == Format::Json {
            self.line.push_str("\"}");
        }
        self.line.push('\n');
        self.events += 1;
        self.emit();
    }

    /// Writes already formatted text (tables).
    pub fn text(&mut self, s: &str) {
        self.line.clear();
        self.line.push_str(s);
        self.emit();
    }

    fn emit(&mut self) {
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(self.line.as_bytes()) {
                self.error = Some(e);
            }
        }
    }

    /// Flushes the output; reports the first write error seen (e.g. a closed pipe).
    pub fn flush(&mut self) -> Result<(), LoadError> {
        if let Some(e) = self.error.take() {
            return Err(LoadError::Write(e));
        }
        self.out.flush().map_err(LoadError::Write)
    }
}
