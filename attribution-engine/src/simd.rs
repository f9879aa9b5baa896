//! Run-time choice between AVX2 code and the baseline target: [`Isa`] for hand-written
//! kernels, [`avx2_build!`] for one function body compiled twice.

/// The instruction sets the hand-written kernels choose between, detected at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    /// Plain Rust for the baseline target.
    Portable,
    /// AVX2 with FMA.
    #[cfg(target_arch = "x86_64")]
    Avx2Fma,
}

impl Isa {
    pub(crate) fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return Self::Avx2Fma;
        }
        Self::Portable
    }
}

/// Defines `fn $name(args) -> ret` running `$body` compiled for AVX2 when the CPU has it and
/// for the baseline target otherwise. The two builds give the same bits: Rust never fuses a
/// multiply and an add on its own, and the body fixes its reduction order. Keep the hot loops
/// of the body plain: an iterator adaptor the compiler does not inline into it (seen with
/// `extend(map(..))`) runs in the baseline build.
macro_rules! avx2_build {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn portable($($arg: $ty),*) $(-> $ret)? $body

            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2")]
            unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                portable($($arg),*)
            }

            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2.
                return unsafe { avx2($($arg),*) };
            }
            portable($($arg),*)
        }
    };
}

pub(crate) use avx2_build;
