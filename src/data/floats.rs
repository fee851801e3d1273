//! [`Floats`]: a dataset's f32 values, held once however many sets and runs read them.
//!
//! Cloning a [`Floats`] shares the values rather than copying them, so a dataset that is split
//! without a validation part, left unscaled or handed to several runs stays one allocation.
//! The values can also live in memory the library does not own (a NumPy array a Python caller
//! passes in, a memory-mapped file): [`Floats::shared`] reads them in place. Writing through
//! [`Floats::make_mut`] copies them first unless this is their only owner (copy-on-write).

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// `[len]` f32 values, shared on clone (see the module's documentation).
#[derive(Clone)]
pub struct Floats(Store);

#[derive(Clone)]
enum Store {
    Owned(Arc<Vec<f32>>),
    Shared(Arc<dyn AsRef<[f32]> + Send + Sync>),
}

impl Floats {
    /// Values that live in `source` (which keeps them alive and unchanged while any clone of
    /// this is read), read in place.
    pub fn shared(source: Arc<dyn AsRef<[f32]> + Send + Sync>) -> Floats {
        Floats(Store::Shared(source))
    }

    /// Whether the values are read in place from a [`Floats::shared`] source.
    pub fn is_shared(&self) -> bool {
        matches!(self.0, Store::Shared(_))
    }

    /// The values, writable: copied into memory of this one's own first unless no other
    /// clone reads them.
    pub fn make_mut(&mut self) -> &mut [f32] {
        if let Store::Shared(s) = &self.0 {
            self.0 = Store::Owned(Arc::new((**s).as_ref().to_vec()));
        }
        match &mut self.0 {
            Store::Owned(v) => Arc::make_mut(v).as_mut_slice(),
            Store::Shared(_) => unreachable!("replaced by an owned copy above"),
        }
    }
}

impl Deref for Floats {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        match &self.0 {
            Store::Owned(v) => v,
            Store::Shared(s) => (**s).as_ref(),
        }
    }
}

impl From<Vec<f32>> for Floats {
    fn from(v: Vec<f32>) -> Floats {
        Floats(Store::Owned(Arc::new(v)))
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
        let how = if self.is_shared() { "shared" } else { "owned" };
        write!(f, "Floats({} values, {how}", self.len())?;
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
        let mut only = Floats::from(vec![4.0]);
        let before = only.as_ptr();
        only.make_mut()[0] = 5.0;
        assert_eq!(only.as_ptr(), before, "a sole owner writes in place");
    }

    #[test]
    fn shared_sources_are_read_in_place_and_copied_on_write() {
        let source: Arc<Vec<f32>> = Arc::new(vec![1.0, 2.0]);
        let mut f = Floats::shared(source.clone());
        assert!(f.is_shared());
        assert_eq!(f.as_ptr(), source.as_ptr(), "read in place");
        f.make_mut()[1] = 7.0;
        assert!(!f.is_shared());
        assert_eq!(&source[..], &[1.0, 2.0], "the source is never written");
        assert_eq!(&f[..], &[1.0, 7.0]);
        assert_eq!(format!("{f:?}"), "Floats(2 values, owned: [1.0, 7.0])");
    }
}
