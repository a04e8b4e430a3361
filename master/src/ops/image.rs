//! Per-device disk images without root (`image stamp`, and `fleet stamp` per bundle):
//! copy an MBR or GPT disk image and write a device's first-boot bundle into the
//! folder `k8s-daas/` of its first FAT partition, in pure Rust — the partition tables
//! read with `mbrman` and `gpt`, the file system written with `fatfs`; no mount, no
//! loop device, no mtools.
//!
//! Everything is checked before anything is written: the bundle (complete, its keys
//! this user's and 0600, the seal token naming them), the image (a partition table, a
//! FAT partition first among the FAT-typed ones, inside the image, with room for the
//! bundle, and no bundle in it already) and the output. Then:
//!
//! - `--out` a new or (with `--force`) an existing **regular file**: the image is
//!   copied into a temporary file beside it (created 0600), sparse — a block of zeros
//!   in the input is a hole in the output, and holes in the input are skipped with
//!   `SEEK_DATA`/`SEEK_HOLE` — stamped, synced and renamed over `--out`, so a crash
//!   never leaves a half-written image under that name.
//! - `--out` a **block device** (a card in a reader: `/dev/sdX`, `/dev/mmcblk0`): it
//!   is opened with `O_EXCL` (refused while a partition of it is mounted), must be at
//!   least the image's size, and is written in place — every block, zeros too, and
//!   nothing past the image's end (not truncated, no `--force` needed) — then stamped
//!   and synced. A device cannot be renamed into place: an interrupted run leaves a
//!   card to write again.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt as _, FileTypeExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use daas_protocol::bundle;
use serde::Serialize;
use thiserror::Error;

use super::bundle::{Bundle, BundleError, BundleFiles};

/// Sector size the partition tables are read with (what SD cards and `.img`/`.wic`
/// files use).
pub const SECTOR: u64 = 512;
/// The granularity of the sparse copy: a block this size that is all zeros becomes a
/// hole.
const BLOCK: usize = 4096;
/// Bytes read and written at a time.
const CHUNK: usize = 1 << 20;

/// Why an image was not stamped. Every message names the flag and the file.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ImageError {
    /// Reading or writing a file.
    #[error("{arg} {}: {source}", path.display())]
    Io {
        /// The flag naming the file.
        arg: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// No partition table.
    #[error("--image {}: {reason}: give an MBR or GPT disk image (the `.img` or `.wic` file a build writes)", path.display())]
    NotADiskImage {
        /// The image.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// No FAT-typed partition.
    #[error(
        "--image {} has no FAT partition (it has: {found}): the bundle goes onto the boot partition, which must be FAT (MBR type 0x0c/0x0b/0x0e/0x06/0x04/0x01/0xef, or a GPT EFI System or Basic Data partition); build the image with one",
        path.display()
    )]
    NoFatPartition {
        /// The image.
        path: PathBuf,
        /// The partitions it has.
        found: String,
    },
    /// The first FAT-typed partition holds no FAT file system.
    #[error(
        "--image {}: partition {number} has a FAT type ({kind}) but no FAT file system ({reason}): format it (mkfs.vfat) in the image build",
        path.display()
    )]
    NotFat {
        /// The image.
        path: PathBuf,
        /// The partition's number (1-based).
        number: u32,
        /// Its type.
        kind: String,
        /// What the FAT reader said.
        reason: String,
    },
    /// A partition reaching past the image's end.
    #[error(
        "--image {}: partition {number} ends at byte {end} but the image is {len} bytes: the image is truncated; copy it again",
        path.display()
    )]
    Truncated {
        /// The image.
        path: PathBuf,
        /// The partition.
        number: u32,
        /// Its end.
        end: u64,
        /// The image's size.
        len: u64,
    },
    /// Not enough free space on the FAT partition.
    #[error(
        "--image {}: the FAT partition {number} has {free} bytes free, the bundle needs {need}: make the boot partition larger in the image build",
        path.display()
    )]
    TooSmall {
        /// The image.
        path: PathBuf,
        /// The partition.
        number: u32,
        /// Free bytes.
        free: u64,
        /// Bytes the bundle takes (whole clusters).
        need: u64,
    },
    /// The image already carries a bundle.
    #[error(
        "--image {} already holds a first-boot bundle ({}/{file}): stamp the clean base image, never a stamped one (two cards would share one device's keys)",
        path.display(), bundle::PARTITION_DIR
    )]
    AlreadyStamped {
        /// The image.
        path: PathBuf,
        /// The bundle file found.
        file: String,
    },
    /// `--out` exists as a regular file.
    #[error(
        "--out {} exists: pass --force to replace it, or choose another path (a block device is written in place without --force)",
        path.display()
    )]
    OutExists {
        /// The output.
        path: PathBuf,
    },
    /// `--out` is neither a regular file nor a block device.
    #[error("--out {} is not a regular file or a block device: give an image path or a card's device (/dev/sdX)", path.display())]
    OutNotFile {
        /// The output.
        path: PathBuf,
    },
    /// `--out` is `--image`.
    #[error("--out {} is the --image itself: stamping writes a copy; give another --out", path.display())]
    SameFile {
        /// The output.
        path: PathBuf,
    },
    /// The block device is smaller than the image.
    #[error(
        "--out {} is {device} bytes, smaller than the {image}-byte image: use a larger card",
        path.display()
    )]
    DeviceTooSmall {
        /// The device.
        path: PathBuf,
        /// Its size.
        device: u64,
        /// The image's size.
        image: u64,
    },
    /// The block device is in use.
    #[error("--out {} is in use (a partition of it is mounted?): unmount it first (`umount {}*`)", path.display(), path.display())]
    DeviceBusy {
        /// The device.
        path: PathBuf,
    },
    /// The bundle.
    #[error("--bundle: {0}")]
    Bundle(#[from] BundleError),
}

fn io_err<'a>(arg: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ImageError + 'a {
    move |source| ImageError::Io {
        arg,
        path: path.to_path_buf(),
        source,
    }
}

/// A byte range of a disk (one partition) as a stream of its own, for `fatfs`.
#[derive(Debug)]
pub struct Slice<T> {
    inner: T,
    start: u64,
    len: u64,
    pos: u64,
}

impl<T: Seek> Slice<T> {
    /// The `len` bytes of `inner` from `start`.
    pub fn new(mut inner: T, start: u64, len: u64) -> io::Result<Self> {
        inner.seek(SeekFrom::Start(start))?;
        Ok(Slice {
            inner,
            start,
            len,
            pos: 0,
        })
    }

    /// The underlying stream.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: Read> Read for Slice<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let n = (buf.len() as u64).min(left) as usize;
        if n == 0 {
            return Ok(0);
        }
        let got = self.inner.read(&mut buf[..n])?;
        self.pos += got as u64;
        Ok(got)
    }
}

impl<T: Write> Write for Slice<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let n = (buf.len() as u64).min(left) as usize;
        if n == 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "write past the end of the partition",
            ));
        }
        let put = self.inner.write(&buf[..n])?;
        self.pos += put as u64;
        Ok(put)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<T: Seek> Seek for Slice<T> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
        };
        let target = target.filter(|t| *t <= self.len).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "seek outside the partition")
        })?;
        self.inner.seek(SeekFrom::Start(self.start + target))?;
        self.pos = target;
        Ok(target)
    }
}

/// Which partition table an image has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Table {
    /// A DOS partition table.
    Mbr,
    /// A GUID partition table (behind a protective MBR).
    Gpt,
}

/// The FAT partition a bundle goes onto.
#[derive(Debug, Clone, Serialize)]
pub struct FatPartition {
    /// The table it is in.
    pub table: Table,
    /// Its number (1-based, as `fdisk` and `/dev/sdXN` count; MBR logical partitions
    /// from 5).
    pub number: u32,
    /// Its type (`0x0c`, or the GPT type name).
    pub kind: String,
    /// Its first byte in the image.
    pub offset: u64,
    /// Its size in bytes.
    pub len: u64,
}

const MBR_FAT_TYPES: [u8; 7] = [0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e, 0xef];
const GPT_EFI: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
const GPT_BASIC_DATA: &str = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7";

/// The partitions of the image with their type, in table order.
fn partitions(file: &mut File, path: &Path) -> Result<(Table, Vec<FatPartition>), ImageError> {
    let mut sector0 = [0u8; SECTOR as usize];
    file.read_exact_at(&mut sector0, 0).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            ImageError::NotADiskImage {
                path: path.to_path_buf(),
                reason: "it is shorter than one sector".into(),
            }
        } else {
            io_err("--image", path)(e)
        }
    })?;
    if sector0[510..512] != [0x55, 0xaa] {
        return Err(ImageError::NotADiskImage {
            path: path.to_path_buf(),
            reason: "no partition table (no boot signature 55 aa at byte 510)".into(),
        });
    }
    let protective = (0..4).any(|i| sector0[446 + 16 * i + 4] == 0xee);
    if protective {
        let disk = gpt::GptConfig::new()
            .writable(false)
            .logical_block_size(gpt::disk::LogicalBlockSize::Lb512)
            .open_from_device(&mut *file)
            .map_err(|e| ImageError::NotADiskImage {
                path: path.to_path_buf(),
                reason: format!("a protective MBR but no readable GPT ({e})"),
            })?;
        let mut out = Vec::new();
        for (n, p) in disk.partitions() {
            if !p.is_used() {
                continue;
            }
            let guid = p.part_type_guid.guid.to_string().to_uppercase();
            let kind = match guid.as_str() {
                GPT_EFI => "EFI System".to_string(),
                GPT_BASIC_DATA => "Basic Data".to_string(),
                _ => guid,
            };
            out.push(FatPartition {
                table: Table::Gpt,
                number: *n,
                kind,
                offset: p.first_lba * SECTOR,
                len: (p.last_lba + 1).saturating_sub(p.first_lba) * SECTOR,
            });
        }
        return Ok((Table::Gpt, out));
    }
    file.seek(SeekFrom::Start(0))
        .map_err(io_err("--image", path))?;
    let mbr = mbrman::MBR::read_from(&mut *file, SECTOR as u32).map_err(|e| {
        ImageError::NotADiskImage {
            path: path.to_path_buf(),
            reason: format!("the MBR partition table does not read ({e})"),
        }
    })?;
    let out = mbr
        .iter()
        .filter(|(_, p)| p.is_used() && !p.is_extended())
        .map(|(i, p)| FatPartition {
            table: Table::Mbr,
            number: i as u32,
            kind: format!("0x{:02x}", p.sys),
            offset: u64::from(p.starting_lba) * SECTOR,
            len: u64::from(p.sectors) * SECTOR,
        })
        .collect();
    Ok((Table::Mbr, out))
}

fn is_fat_kind(p: &FatPartition) -> bool {
    match p.table {
        Table::Mbr => u8::from_str_radix(p.kind.trim_start_matches("0x"), 16)
            .is_ok_and(|t| MBR_FAT_TYPES.contains(&t)),
        Table::Gpt => p.kind == "EFI System" || p.kind == "Basic Data",
    }
}

/// The image's first FAT-typed partition, checked to lie inside the image.
pub fn find_fat_partition(
    file: &mut File,
    path: &Path,
    image_len: u64,
) -> Result<FatPartition, ImageError> {
    let (table, parts) = partitions(file, path)?;
    let Some(p) = parts.iter().find(|p| is_fat_kind(p)).cloned() else {
        let found = if parts.is_empty() {
            format!(
                "an empty {} table",
                if table == Table::Mbr { "MBR" } else { "GPT" }
            )
        } else {
            parts
                .iter()
                .map(|p| format!("{} {}", p.number, p.kind))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(ImageError::NoFatPartition {
            path: path.to_path_buf(),
            found,
        });
    };
    let end = p.offset + p.len;
    if end > image_len || p.len == 0 {
        return Err(ImageError::Truncated {
            path: path.to_path_buf(),
            number: p.number,
            end,
            len: image_len,
        });
    }
    Ok(p)
}

/// A stream that refuses writes, so checking an input image can never change it.
#[derive(Debug)]
struct ReadOnly<'a>(&'a File);

impl Read for ReadOnly<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}
impl Write for ReadOnly<'_> {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the input image is only read",
        ))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
impl Seek for ReadOnly<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.0.seek(to)
    }
}

/// File times on the FAT from the system clock (UTC, as FAT has no zone), clamped to
/// the years FAT can store.
#[derive(Debug)]
struct Clock;

impl fatfs::TimeProvider for Clock {
    fn get_current_date(&self) -> fatfs::Date {
        self.get_current_date_time().date
    }
    fn get_current_date_time(&self) -> fatfs::DateTime {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let (y, mo, d, h, mi, s) = super::explain::civil(ms);
        let n = |v: i64| v as u16;
        fatfs::DateTime {
            date: fatfs::Date {
                year: n(y.clamp(1980, 2107)),
                month: n(mo),
                day: n(d),
            },
            time: fatfs::Time {
                hour: n(h),
                min: n(mi),
                sec: n(s),
                millis: 0,
            },
        }
    }
}

static CLOCK: Clock = Clock;

fn fat_options() -> fatfs::FsOptions {
    fatfs::FsOptions::new()
        .update_accessed_date(false)
        .time_provider(&CLOCK)
}

/// Checks the FAT partition of the input: a FAT file system, no bundle in it yet, room
/// for `files`.
fn check_fat(
    file: &File,
    path: &Path,
    part: &FatPartition,
    files: &BundleFiles,
) -> Result<(), ImageError> {
    let not_fat = |e: io::Error| ImageError::NotFat {
        path: path.to_path_buf(),
        number: part.number,
        kind: part.kind.clone(),
        reason: e.to_string(),
    };
    let slice =
        Slice::new(ReadOnly(file), part.offset, part.len).map_err(io_err("--image", path))?;
    let fs = fatfs::FileSystem::new(slice, fat_options()).map_err(not_fat)?;
    let root = fs.root_dir();
    let mut need_dir = true;
    if let Ok(dir) = root.open_dir(bundle::PARTITION_DIR) {
        need_dir = false;
        for entry in dir.iter() {
            let entry = entry.map_err(io_err("--image", path))?;
            let name = entry.file_name();
            if name != bundle::README_FILE && bundle::ALL_FILES.contains(&name.as_str()) {
                return Err(ImageError::AlreadyStamped {
                    path: path.to_path_buf(),
                    file: name,
                });
            }
        }
    }
    let stats = fs.stats().map_err(not_fat)?;
    let cluster = u64::from(stats.cluster_size());
    let clusters = |n: u64| n.div_ceil(cluster).max(1);
    // every file rounds up to whole clusters; the folder takes one, and the root folder
    // may need one more for the new entry
    let need: u64 = files
        .iter()
        .map(|(_, b)| clusters(b.len() as u64))
        .sum::<u64>()
        + if need_dir { 2 } else { 0 };
    let free = u64::from(stats.free_clusters());
    if free < need {
        return Err(ImageError::TooSmall {
            path: path.to_path_buf(),
            number: part.number,
            free: free * cluster,
            need: need * cluster,
        });
    }
    Ok(())
}

/// Writes `files` into `k8s-daas/` of the FAT partition of `out`.
fn write_fat(
    out: &mut File,
    out_path: &Path,
    part: &FatPartition,
    files: &BundleFiles,
) -> Result<(), ImageError> {
    let err = io_err("--out", out_path);
    let slice = Slice::new(&mut *out, part.offset, part.len).map_err(io_err("--out", out_path))?;
    let fs = fatfs::FileSystem::new(slice, fat_options()).map_err(io_err("--out", out_path))?;
    let result = (|| {
        let dir = fs.root_dir().create_dir(bundle::PARTITION_DIR)?;
        for (name, bytes) in files {
            let mut f = dir.create_file(name)?;
            f.truncate()?;
            f.write_all(bytes)?;
            f.flush()?;
        }
        Ok(())
    })();
    result.map_err(io_err("--out", out_path))?;
    fs.unmount().map_err(err)
}

/// What the output is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutKind {
    /// A new or replaced image file (sparse, 0600).
    File,
    /// A block device, written in place.
    BlockDevice,
}

/// What `image stamp` did.
#[derive(Debug, Clone, Serialize)]
pub struct StampReport {
    /// The output.
    pub out: PathBuf,
    /// File or block device.
    pub out_kind: OutKind,
    /// The device whose bundle it holds.
    pub node_id: String,
    /// The partition written.
    pub partition: FatPartition,
    /// The folder on it (`k8s-daas`).
    pub folder: &'static str,
    /// The files written there.
    pub files: Vec<&'static str>,
    /// The image's size in bytes.
    pub image_bytes: u64,
    /// Bytes written by the copy (blocks of zeros are holes in a file output).
    pub copied_bytes: u64,
}

enum Out {
    New,
    Replace,
    Device(File),
}

fn classify_out(out: &Path, image_meta: &fs::Metadata, force: bool) -> Result<Out, ImageError> {
    let meta = match fs::metadata(out) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Out::New),
        Err(e) => return Err(io_err("--out", out)(e)),
    };
    if meta.dev() == image_meta.dev() && meta.ino() == image_meta.ino() {
        return Err(ImageError::SameFile {
            path: out.to_path_buf(),
        });
    }
    if meta.file_type().is_block_device() {
        let f = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(rustix::fs::OFlags::EXCL.bits() as i32)
            .open(out)
            .map_err(|e| {
                if e.raw_os_error() == Some(rustix::io::Errno::BUSY.raw_os_error()) {
                    ImageError::DeviceBusy {
                        path: out.to_path_buf(),
                    }
                } else {
                    io_err("--out", out)(e)
                }
            })?;
        return Ok(Out::Device(f));
    }
    if !meta.is_file() {
        return Err(ImageError::OutNotFile {
            path: out.to_path_buf(),
        });
    }
    if !force {
        return Err(ImageError::OutExists {
            path: out.to_path_buf(),
        });
    }
    Ok(Out::Replace)
}

/// The data extents of `file` up to `len`, from `SEEK_DATA`/`SEEK_HOLE` (the whole
/// range where the file system cannot tell).
fn data_extents(file: &File, len: u64) -> Vec<(u64, u64)> {
    use rustix::fs::{SeekFrom as S, seek};
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < len {
        let start = match seek(file, S::Data(pos)) {
            Ok(s) => s,
            Err(rustix::io::Errno::NXIO) => break,
            Err(_) => return vec![(0, len)],
        };
        if start >= len {
            break;
        }
        let end = seek(file, S::Hole(start)).unwrap_or(len).min(len);
        out.push((start, end));
        pos = end;
    }
    out
}

/// Copies `len` bytes of `input` to `out`. With `sparse`, zero blocks are skipped (the
/// output must read as zeros there already: a fresh file of that length); otherwise
/// every byte is written. Returns the bytes written.
fn copy(
    input: &File,
    in_path: &Path,
    out: &File,
    out_path: &Path,
    len: u64,
    sparse: bool,
) -> Result<u64, ImageError> {
    let extents = if sparse {
        data_extents(input, len)
    } else {
        vec![(0, len)]
    };
    let mut buf = vec![0u8; CHUNK];
    let mut written = 0u64;
    for (start, end) in extents {
        let mut pos = start;
        while pos < end {
            let n = ((end - pos) as usize).min(CHUNK);
            let chunk = &mut buf[..n];
            input
                .read_exact_at(chunk, pos)
                .map_err(io_err("--image", in_path))?;
            if !sparse {
                out.write_all_at(chunk, pos)
                    .map_err(io_err("--out", out_path))?;
                written += n as u64;
            } else {
                // runs of blocks that hold data, written as one
                let mut i = 0;
                while i < n {
                    let run_start = i;
                    while i < n && !is_zero(&chunk[i..(i + BLOCK).min(n)]) {
                        i += BLOCK;
                    }
                    let run_end = i.min(n);
                    if run_end > run_start {
                        out.write_all_at(&chunk[run_start..run_end], pos + run_start as u64)
                            .map_err(io_err("--out", out_path))?;
                        written += (run_end - run_start) as u64;
                    }
                    while i < n && is_zero(&chunk[i..(i + BLOCK).min(n)]) {
                        i += BLOCK;
                    }
                }
            }
            pos += n as u64;
        }
    }
    Ok(written)
}

fn is_zero(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0)
}

fn temp_beside(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    dir.join(format!(".{name}.tmp-{}", std::process::id()))
}

/// `image stamp`: copies `image` to `out` with the bundle in `bundle_dir` written onto
/// its FAT boot partition (module docs). `force` replaces an existing regular file.
pub fn stamp(
    image: &Path,
    bundle_dir: &Path,
    out: &Path,
    force: bool,
) -> Result<StampReport, ImageError> {
    let bundle = Bundle::read(bundle_dir)?;
    stamp_bundle(image, &bundle, out, force)
}

/// [`stamp`] for a bundle already read.
pub fn stamp_bundle(
    image: &Path,
    bundle: &Bundle,
    out: &Path,
    force: bool,
) -> Result<StampReport, ImageError> {
    let files = bundle.files()?;
    let mut input = File::open(image).map_err(io_err("--image", image))?;
    let meta = input.metadata().map_err(io_err("--image", image))?;
    let image_len = if meta.file_type().is_block_device() {
        input
            .seek(SeekFrom::End(0))
            .map_err(io_err("--image", image))?
    } else {
        meta.len()
    };
    let part = find_fat_partition(&mut input, image, image_len)?;
    check_fat(&input, image, &part, &files)?;
    let target = classify_out(out, &meta, force)?;
    let report = |out_kind, copied_bytes| StampReport {
        out: out.to_path_buf(),
        out_kind,
        node_id: bundle.node_id.to_string(),
        partition: part.clone(),
        folder: bundle::PARTITION_DIR,
        files: files.iter().map(|(n, _)| *n).collect(),
        image_bytes: image_len,
        copied_bytes,
    };
    match target {
        Out::Device(mut dev) => {
            let size = dev.seek(SeekFrom::End(0)).map_err(io_err("--out", out))?;
            if size < image_len {
                return Err(ImageError::DeviceTooSmall {
                    path: out.to_path_buf(),
                    device: size,
                    image: image_len,
                });
            }
            let copied = copy(&input, image, &dev, out, image_len, false)?;
            write_fat(&mut dev, out, &part, &files)?;
            dev.sync_all().map_err(io_err("--out", out))?;
            Ok(report(OutKind::BlockDevice, copied))
        }
        Out::New | Out::Replace => {
            let tmp = temp_beside(out);
            let result = (|| {
                let mut f = fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&tmp)
                    .map_err(io_err("--out", &tmp))?;
                f.set_len(image_len).map_err(io_err("--out", &tmp))?;
                let copied = copy(&input, image, &f, &tmp, image_len, true)?;
                write_fat(&mut f, &tmp, &part, &files)?;
                f.sync_all().map_err(io_err("--out", &tmp))?;
                drop(f);
                fs::rename(&tmp, out).map_err(io_err("--out", out))?;
                let dir = match out.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
                File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(io_err("--out", dir))?;
                Ok(copied)
            })();
            match result {
                Ok(copied) => Ok(report(OutKind::File, copied)),
                Err(e) => {
                    let _ = fs::remove_file(&tmp);
                    Err(e)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slice_keeps_reads_writes_and_seeks_inside_its_range() {
        let mut backing = io::Cursor::new(vec![0u8; 64]);
        backing.get_mut()[16..20].copy_from_slice(b"abcd");
        let mut s = Slice::new(backing, 16, 8).unwrap();
        let mut b = [0u8; 16];
        assert_eq!(s.read(&mut b).unwrap(), 8);
        assert_eq!(&b[..4], b"abcd");
        assert!(s.write(b"x").is_err(), "past the end");
        assert!(s.seek(SeekFrom::Start(9)).is_err());
        s.seek(SeekFrom::End(-1)).unwrap();
        s.write_all(b"z").unwrap();
        let inner = s.into_inner().into_inner();
        assert_eq!(inner[23], b'z');
        assert_eq!(inner[24], 0);
    }

    #[test]
    fn zero_blocks_become_holes_and_data_is_copied_exactly() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("in");
        let mut data = vec![0u8; 3 * CHUNK + 100];
        data[5] = 1;
        data[2 * CHUNK + 4096 * 3 + 7] = 2;
        data[3 * CHUNK + 99] = 3;
        fs::write(&src, &data).unwrap();
        let input = File::open(&src).unwrap();
        let dst = d.path().join("out");
        let out = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&dst)
            .unwrap();
        out.set_len(data.len() as u64).unwrap();
        let written = copy(&input, &src, &out, &dst, data.len() as u64, true).unwrap();
        assert_eq!(written, 4096 * 2 + 100, "only the blocks holding data");
        assert_eq!(fs::read(&dst).unwrap(), data);
        let blocks = fs::metadata(&dst).unwrap().blocks();
        assert!(
            blocks * 512 < data.len() as u64 / 2,
            "sparse: {blocks} blocks"
        );
    }
}
