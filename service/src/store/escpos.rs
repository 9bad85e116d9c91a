//! ESC/POS rendering for store receipt printers: a ticket (lines of text with alignment, bold and double size, rows
//! with a left and a right part, rules, a QR code, a cut, a cash-drawer kick) rendered for one printer's paper width
//! and abilities.
//!
//! - Text is GBK, what Chinese-firmware printers decode natively. `¥` (U+00A5) has no GBK code, so it is written as
//!   the full-width `￥` (A3 A4); any other character GBK lacks prints as `?` rather than as garbage.
//! - Widths count columns of font A: 32 on 58 mm paper, 48 on 80 mm; a Chinese character takes two, double size
//!   doubles everything.
//! - QR codes use the native `GS ( k` where the printer has it, and a raster image (`GS v 0`) where it does not.

use qrcode::{Color, EcLevel, QrCode};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paper {
    Mm58,
    Mm80,
}

impl Paper {
    pub fn parse(mm: i32) -> Option<Self> {
        match mm {
            58 => Some(Paper::Mm58),
            80 => Some(Paper::Mm80),
            _ => None,
        }
    }

    pub fn mm(self) -> i32 {
        match self {
            Paper::Mm58 => 58,
            Paper::Mm80 => 80,
        }
    }

    /// Columns of font A (12 × 24 dots).
    pub fn columns(self) -> usize {
        match self {
            Paper::Mm58 => 32,
            Paper::Mm80 => 48,
        }
    }

    /// Printable dots across (8 dots per mm).
    fn dots(self) -> usize {
        match self {
            Paper::Mm58 => 384,
            Paper::Mm80 => 576,
        }
    }
}

/// What a printer can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    pub paper: Paper,
    /// Native QR (`GS ( k`); otherwise a raster image.
    pub native_qr: bool,
    /// A cash drawer hangs off this printer.
    pub drawer: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Align {
    #[default]
    Left,
    Center,
    Right,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Block {
    Text { text: String, align: Align, bold: bool, double: bool },
    Row { left: String, right: String, bold: bool },
    Rule,
    Feed,
    Qr(String),
    Drawer,
}

/// A ticket to print, built line by line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ticket {
    blocks: Vec<Block>,
}

impl Ticket {
    pub fn new() -> Self {
        Self::default()
    }

    /// A line (wrapped to the paper) with its style.
    pub fn text(mut self, text: impl Into<String>, align: Align, bold: bool, double: bool) -> Self {
        self.blocks.push(Block::Text { text: text.into(), align, bold, double });
        self
    }

    pub fn line(self, text: impl Into<String>) -> Self {
        self.text(text, Align::Left, false, false)
    }

    pub fn title(self, text: impl Into<String>) -> Self {
        self.text(text, Align::Center, true, true)
    }

    pub fn centered(self, text: impl Into<String>) -> Self {
        self.text(text, Align::Center, false, false)
    }

    /// `left` and `right` on one line (the left part shortened if both do not fit).
    pub fn row(mut self, left: impl Into<String>, right: impl Into<String>) -> Self {
        self.blocks.push(Block::Row { left: left.into(), right: right.into(), bold: false });
        self
    }

    pub fn bold_row(mut self, left: impl Into<String>, right: impl Into<String>) -> Self {
        self.blocks.push(Block::Row { left: left.into(), right: right.into(), bold: true });
        self
    }

    pub fn rule(mut self) -> Self {
        self.blocks.push(Block::Rule);
        self
    }

    pub fn feed(mut self) -> Self {
        self.blocks.push(Block::Feed);
        self
    }

    pub fn qr(mut self, data: impl Into<String>) -> Self {
        self.blocks.push(Block::Qr(data.into()));
        self
    }

    /// Opens the cash drawer (only where the printer has one).
    pub fn drawer(mut self) -> Self {
        self.blocks.push(Block::Drawer);
        self
    }

    /// The same ticket as copy `n` (1 for the first reprint): marked as a reprint at the top and at the end, and
    /// without the drawer kick (a reprint takes no cash, so it must not open the drawer).
    pub fn reprint(mut self, n: i32) -> Self {
        self.blocks.retain(|block| !matches!(block, Block::Drawer));
        let mark = || Block::Text {
            text: format!("** 重印 / reprint {n} **"),
            align: Align::Center,
            bold: true,
            double: false,
        };
        self.blocks.insert(0, mark());
        self.blocks.push(mark());
        self
    }

    /// The bytes for a printer: initialise, the blocks, feed and cut.
    pub fn render(&self, profile: Profile) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        out.extend_from_slice(&[0x1B, 0x40]); // ESC @
        out.extend_from_slice(&[0x1C, 0x26]); // FS &: Chinese mode (the power-on default on Chinese firmware)
        let columns = profile.paper.columns();
        for block in &self.blocks {
            match block {
                Block::Text { text, align, bold, double } => {
                    set_align(&mut out, *align);
                    set_bold(&mut out, *bold);
                    set_double(&mut out, *double);
                    let width = if *double { columns / 2 } else { columns };
                    for piece in wrap(text, width) {
                        out.extend_from_slice(&gbk(&piece));
                        out.push(b'\n');
                    }
                    set_double(&mut out, false);
                    set_bold(&mut out, false);
                    set_align(&mut out, Align::Left);
                }
                Block::Row { left, right, bold } => {
                    set_bold(&mut out, *bold);
                    out.extend_from_slice(&gbk(&row(left, right, columns)));
                    out.push(b'\n');
                    set_bold(&mut out, false);
                }
                Block::Rule => {
                    out.extend_from_slice("-".repeat(columns).as_bytes());
                    out.push(b'\n');
                }
                Block::Feed => out.push(b'\n'),
                Block::Qr(data) => {
                    set_align(&mut out, Align::Center);
                    if profile.native_qr {
                        native_qr(&mut out, data);
                    } else {
                        raster_qr(&mut out, data, profile.paper);
                    }
                    out.push(b'\n');
                    set_align(&mut out, Align::Left);
                }
                Block::Drawer => {
                    if profile.drawer {
                        out.extend_from_slice(&[0x1B, 0x70, 0x00, 0x32, 0x32]); // ESC p, pin 2, 100 ms on/off
                    }
                }
            }
        }
        out.extend_from_slice(&[0x1D, 0x56, 0x42, 0x00]); // GS V 66 0: feed to the cutter and cut
        out
    }
}

fn set_align(out: &mut Vec<u8>, align: Align) {
    let n = match align {
        Align::Left => 0,
        Align::Center => 1,
        Align::Right => 2,
    };
    out.extend_from_slice(&[0x1B, 0x61, n]);
}

fn set_bold(out: &mut Vec<u8>, on: bool) {
    out.extend_from_slice(&[0x1B, 0x45, u8::from(on)]);
}

fn set_double(out: &mut Vec<u8>, on: bool) {
    out.extend_from_slice(&[0x1D, 0x21, if on { 0x11 } else { 0x00 }]);
}

/// Columns a character takes: two for anything outside ASCII (GBK double-byte), one otherwise.
fn columns_of(c: char) -> usize {
    if c.is_ascii() { 1 } else { 2 }
}

pub fn display_width(text: &str) -> usize {
    text.chars().map(columns_of).sum()
}

/// Lines of at most `width` columns; breaks at spaces where it can, anywhere between Chinese characters.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut used = 0;
        for c in paragraph.chars() {
            let w = columns_of(c);
            if used + w > width {
                // Break at the last space of the line if it has one, carrying the word over.
                let carry = match line.rfind(' ') {
                    Some(at) if c != ' ' && at > 0 => {
                        let tail = line[at + 1..].to_owned();
                        line.truncate(at);
                        tail
                    }
                    _ => String::new(),
                };
                lines.push(std::mem::take(&mut line));
                used = display_width(&carry);
                line = carry;
                if c == ' ' {
                    continue;
                }
            }
            line.push(c);
            used += w;
        }
        lines.push(line);
    }
    lines
}

/// `left` and `right` on one line of `width` columns, `left` shortened with `…` when they do not fit.
fn row(left: &str, right: &str, width: usize) -> String {
    let right_width = display_width(right);
    let room = width.saturating_sub(right_width + 1);
    let mut shown = String::new();
    let mut used = 0;
    if display_width(left) <= room {
        shown.push_str(left);
        used = display_width(left);
    } else {
        for c in left.chars() {
            if used + columns_of(c) + 1 > room {
                break;
            }
            shown.push(c);
            used += columns_of(c);
        }
        shown.push('.');
        used += 1;
    }
    let gap = width.saturating_sub(used + right_width).max(1);
    format!("{shown}{}{right}", " ".repeat(gap))
}

/// GBK bytes, with `¥` written as `￥` and anything GBK lacks as `?`.
pub fn gbk(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    let mut buffer = [0_u8; 4];
    for c in text.chars() {
        let c = if c == '¥' { '￥' } else { c };
        if c.is_ascii() {
            out.push(u8::try_from(u32::from(c)).unwrap_or(b'?'));
            continue;
        }
        let (bytes, _, unmappable) = encoding_rs::GBK.encode(c.encode_utf8(&mut buffer));
        if unmappable { out.push(b'?') } else { out.extend_from_slice(&bytes) }
    }
    out
}

/// `GS ( k`: model 2, module size 6, error correction M, store, print.
fn native_qr(out: &mut Vec<u8>, data: &str) {
    out.extend_from_slice(&[0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00]);
    out.extend_from_slice(&[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x43, 0x06]);
    out.extend_from_slice(&[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x45, 0x31]);
    let length = data.len() + 3;
    let (pl, ph) = (u8::try_from(length % 256).unwrap_or(0), u8::try_from(length / 256).unwrap_or(0));
    out.extend_from_slice(&[0x1D, 0x28, 0x6B, pl, ph, 0x31, 0x50, 0x30]);
    out.extend_from_slice(data.as_bytes());
    out.extend_from_slice(&[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30]);
}

/// `GS v 0`: the QR code drawn as a bit image, each module a square of dots, with a quiet zone of 2 modules.
fn raster_qr(out: &mut Vec<u8>, data: &str, paper: Paper) {
    let Ok(code) = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M) else {
        // Too long to draw: print it instead.
        out.extend_from_slice(&gbk(data));
        return;
    };
    let modules = code.width();
    let quiet = 2;
    let side = modules + 2 * quiet;
    let scale = (paper.dots() / 2 / side).clamp(1, 8);
    let dots = side * scale;
    let bytes_per_row = dots.div_ceil(8);
    let colors = code.to_colors();
    let (xl, xh) = (u8::try_from(bytes_per_row % 256).unwrap_or(0), u8::try_from(bytes_per_row / 256).unwrap_or(0));
    let (yl, yh) = (u8::try_from(dots % 256).unwrap_or(0), u8::try_from(dots / 256).unwrap_or(0));
    out.extend_from_slice(&[0x1D, 0x76, 0x30, 0x00, xl, xh, yl, yh]);
    for y in 0..dots {
        let my = y / scale;
        let mut row = vec![0_u8; bytes_per_row];
        for x in 0..dots {
            let mx = x / scale;
            let dark = my >= quiet
                && mx >= quiet
                && my < quiet + modules
                && mx < quiet + modules
                && colors[(my - quiet) * modules + (mx - quiet)] == Color::Dark;
            if dark {
                row[x / 8] |= 0x80 >> (x % 8);
            }
        }
        out.extend_from_slice(&row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_uses_the_full_width_yuan_and_never_four_byte_codes() {
        assert_eq!(gbk("会员"), [0xBB, 0xE1, 0xD4, 0xB1]);
        assert_eq!(gbk("¥1"), [0xA3, 0xA4, b'1']);
        assert_eq!(gbk("￥"), [0xA3, 0xA4]);
        // An emoji has no GBK code: a question mark, not GB18030's four bytes.
        assert_eq!(gbk("a😀"), [b'a', b'?']);
    }

    #[test]
    fn rows_fill_the_paper_and_shorten_the_left_part() {
        assert_eq!(row("洗剪吹", "68.00", 32), format!("洗剪吹{}68.00", " ".repeat(32 - 6 - 5)));
        let long = row("超长的服务名称超长的服务名称超长的服务名称", "￥1,288.00", 32);
        assert_eq!(display_width(&long), 32, "{long}");
        assert!(long.ends_with("￥1,288.00") && long.contains('.'));
    }

    #[test]
    fn text_wraps_by_display_width() {
        let lines = wrap("欢迎光临悦己美发人民广场店，期待您的再次光临", 16);
        assert!(lines.iter().all(|l| display_width(l) <= 16), "{lines:?}");
        assert_eq!(lines.concat(), "欢迎光临悦己美发人民广场店，期待您的再次光临");
        assert_eq!(wrap("thank you for coming", 10), ["thank you", "for coming"]);
    }

    #[test]
    fn native_qr_lengths_follow_the_manual() {
        let mut out = Vec::new();
        native_qr(&mut out, "https://hy.example/r/1");
        let store = [0x1D, 0x28, 0x6B, 25, 0x00, 0x31, 0x50, 0x30];
        assert!(out.windows(store.len()).any(|w| w == store));
        assert!(out.ends_with(&[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30]));
    }

    #[test]
    fn raster_qr_is_a_square_bit_image() {
        let mut out = Vec::new();
        raster_qr(&mut out, "hello", Paper::Mm58);
        assert_eq!(&out[..4], &[0x1D, 0x76, 0x30, 0x00]);
        let width_bytes = usize::from(out[4]) + 256 * usize::from(out[5]);
        let height = usize::from(out[6]) + 256 * usize::from(out[7]);
        assert_eq!(out.len(), 8 + width_bytes * height);
        assert!(width_bytes * 8 >= height && width_bytes * 8 < height + 8);
    }

    #[test]
    fn the_drawer_opens_only_where_there_is_one() {
        let ticket = Ticket::new().line("x").drawer();
        let kick = [0x1B, 0x70, 0x00];
        let with = ticket.render(Profile { paper: Paper::Mm80, native_qr: true, drawer: true });
        let without = ticket.render(Profile { paper: Paper::Mm80, native_qr: true, drawer: false });
        assert!(with.windows(3).any(|w| w == kick));
        assert!(!without.windows(3).any(|w| w == kick));
    }
}
