//! The frames a reader worker and its parent exchange over the worker's stdin and stdout:
//! one version byte, a 4-byte big-endian length, then that many bytes. A frame with another
//! version or a length past the cap is refused whole: the other side is then not a worker of
//! this build (an old binary, a stray program, garbage), and the pool treats the worker as
//! broken rather than guess.

use std::io::{self, Read, Write};

/// The protocol's version: the first byte of every frame. Bump it when a payload changes.
pub const VERSION: u8 = 3;

/// What reading a frame can find besides a frame.
#[derive(Debug)]
pub enum FrameError {
    /// The stream ended between frames or the pipe failed (the other side closed it, or
    /// died).
    Closed,
    /// A frame of another version, longer than the cap, or cut short.
    Garbled(String),
}

/// Writes one frame and flushes it.
pub fn write(w: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame over 4 GiB"))?;
    let mut header = [0u8; 5];
    header[0] = VERSION;
    header[1..].copy_from_slice(&len.to_be_bytes());
    w.write_all(&header)?;
    w.write_all(payload)?;
    w.flush()
}

/// Reads one frame of at most `max` bytes.
pub fn read(r: &mut impl Read, max: u64) -> Result<Vec<u8>, FrameError> {
    let mut header = [0u8; 5];
    match r.read(&mut header[..1]) {
        Ok(0) => return Err(FrameError::Closed),
        Ok(_) => {}
        Err(_) => return Err(FrameError::Closed),
    }
    if header[0] != VERSION {
        return Err(FrameError::Garbled(format!(
            "frame version {} (this build speaks {VERSION})",
            header[0]
        )));
    }
    r.read_exact(&mut header[1..]).map_err(cut_short)?;
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    if u64::from(len) > max {
        return Err(FrameError::Garbled(format!("a frame of {len} bytes")));
    }
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload).map_err(cut_short)?;
    Ok(payload)
}

fn cut_short(e: io::Error) -> FrameError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        FrameError::Garbled("a frame cut short".to_string())
    } else {
        FrameError::Closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_a_stream_ends_between_them() {
        let mut buf = Vec::new();
        write(&mut buf, b"abc").unwrap();
        write(&mut buf, b"").unwrap();
        // Worked out by hand: version, length 3 big-endian, the bytes; then an empty frame.
        assert_eq!(buf, [3, 0, 0, 0, 3, b'a', b'b', b'c', 3, 0, 0, 0, 0]);
        let mut r = &buf[..];
        assert_eq!(read(&mut r, 10).unwrap(), b"abc");
        assert_eq!(read(&mut r, 10).unwrap(), b"");
        assert!(matches!(read(&mut r, 10), Err(FrameError::Closed)));
    }

    #[test]
    fn another_version_a_long_frame_or_a_cut_frame_is_garbled() {
        let garbled =
            |bytes: &[u8]| matches!(read(&mut &bytes[..], 10), Err(FrameError::Garbled(_)));
        assert!(garbled(b"{not json"));
        assert!(garbled(&[3, 0, 0, 0, 11]));
        assert!(garbled(&[3, 0, 0, 0, 3, b'a']));
        assert!(garbled(&[3, 0, 0]));
        // Workers of the builds before the binary workbook and form encodings.
        assert!(garbled(&[1, 0, 0, 0, 0]));
        assert!(garbled(&[2, 0, 0, 0, 0]));
    }
}
