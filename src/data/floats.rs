//! [`Floats`]: a dataset's f32 values, held once however many sets and runs read them.
//!
//! Cloning a [`Floats`] shares the values rather than copying them, so a dataset that is split
//! without a validation part, left unscaled or handed to several runs stays one allocation.
//! The values can also live in memory the library does not own or did not allocate: a NumPy
//! array a Python caller passes in (read in place, never written), a copy-on-write memory map
//! of a `.npy` file (written in place: the pages written become the process's own, the others
//! stay the file's). [`Floats::make_mut`] writes in place when this is the only reader of
//! writable storage, and copies the values first otherwise (copy-on-write).

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// Memory holding `[len]` f32 values for [`Floats`].
pub trait Storage: Send + Sync {
    fn values(&self) -> &[f32];
    /// The values, writable, where the storage allows it (`None`: read-only).
    fn values_mut(&mut self) -> Option<&mut [f32]>;
    /// Keeps the first `len` values (read-only storage keeps them all and reads fewer).
    fn truncate(&mut self, len: usize);
}

impl Storage for Vec<f32> {
    fn values(&self) -> &[f32] {
        self
    }

    fn values_mut(&mut self) -> Option<&mut [f32]> {
        Some(self)
    }

    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len);
        self.shrink_to_fit();
    }
}

/// `[len]` f32 values, shared on clone (see the module's documentation).
#[derive(Clone)]
pub struct Floats {
    store: Arc<dyn Storage>,
    /// Values read: all of the storage's unless truncated on read-only storage.
    len: usize,
}

impl Floats {
    /// Values that live in `storage`, read (and written, where it allows) in place.
    pub fn shared(storage: Arc<dyn Storage>) -> Floats {
        let len = storage.values().len();
        Floats {
            store: storage,
            len,
        }
    }

    /// Whether the values are written in place by [`Floats::make_mut`]: this is their only
    /// reader and their storage is writable.
    pub fn writable_in_place(&mut self) -> bool {
        Arc::get_mut(&mut self.store).is_some_and(|s| s.values_mut().is_some())
    }

    /// The values, writable: in place when [`Floats::writable_in_place`], else copied into
    /// memory of this one's own first.
    pub fn make_mut(&mut self) -> &mut [f32] {
        if !self.writable_in_place() {
            *self = Floats::from(self.to_vec());
        }
        let len = self.len;
        let store = Arc::get_mut(&mut self.store).expect("a sole owner (checked or just made)");
        &mut store.values_mut().expect("writable storage")[..len]
    }

    /// Keeps the first `len` values, releasing the rest where the storage can.
    pub fn truncate(&mut self, len: usize) {
        let len = len.min(self.len);
        if let Some(s) = Arc::get_mut(&mut self.store) {
            s.truncate(len);
        }
        self.len = len;
    }
}

impl Deref for Floats {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        &self.store.values()[..self.len]
    }
}

impl From<Vec<f32>> for Floats {
    fn from(v: Vec<f32>) -> Floats {
        Floats::shared(Arc::new(v))
    }
}

impl FromIterator<f32> for Floats {
    fn from_iter<I: IntoIterator<Item = f32>>(iter: I) -> Floats {
        Floats::from(iter.into_iter().collect::<Vec<f32>>())
    }
}

impl PartialEq for Floats {
    fn eq(&self, other: &Floats) -> bool {
        **self == **other
    }
}

impl fmt::Debug for Floats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Floats({} values", self.len())?;
        if !self.is_empty() {
            write!(f, ": {:?}", &self[..self.len().min(4)])?;
            if self.len() > 4 {
                write!(f, " …")?;
            }
        }
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_and_writes_copy() {
        let a = Floats::from(vec![1.0, 2.0, 3.0]);
        let mut b = a.clone();
        assert_eq!(a.as_ptr(), b.as_ptr(), "a clone shares the values");
        b.make_mut()[0] = 9.0;
        assert_eq!(
            &a[..],
            &[1.0, 2.0, 3.0],
            "writing a clone leaves the original"
        );
        assert_eq!(&b[..], &[9.0, 2.0, 3.0]);
        let mut only = Floats::from(vec![4.0, 5.0]);
        let before = only.as_ptr();
        only.make_mut()[0] = 5.0;
        assert_eq!(only.as_ptr(), before, "a sole owner writes in place");
        only.truncate(1);
        assert_eq!(&only[..], &[5.0]);
    }

    /// Read-only storage, as a NumPy array's.
    struct ReadOnly(Vec<f32>);

    impl Storage for ReadOnly {
        fn values(&self) -> &[f32] {
            &self.0
        }
        fn values_mut(&mut self) -> Option<&mut [f32]> {
            None
        }
        fn truncate(&mut self, _len: usize) {}
    }

    #[test]
    fn read_only_storage_is_read_in_place_and_copied_on_write() {
        let source = Arc::new(ReadOnly(vec![1.0, 2.0, 3.0]));
        let mut f = Floats::shared(source.clone());
        assert_eq!(f.as_ptr(), source.0.as_ptr(), "read in place");
        f.truncate(2);
        assert_eq!(&f[..], &[1.0, 2.0]);
        assert!(!f.writable_in_place());
        f.make_mut()[1] = 7.0;
        assert!(f.writable_in_place());
        assert_eq!(
            &source.0[..],
            &[1.0, 2.0, 3.0],
            "the source is never written"
        );
        assert_eq!(format!("{f:?}"), "Floats(2 values: [1.0, 7.0])");
    }
}
