//! What the WASI host needs from the machine it runs on. The kernel implements this over its
//! devices; tests implement it over `std`. Everything takes `&self`: implementations use
//! interior mutability (the kernel runs one vCPU, cooperatively).

/// A point on the wall clock: time since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallTime {
    pub seconds: u64,
    pub nanoseconds: u32,
}

/// Which console stream bytes go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleStream {
    Stdout,
    Stderr,
}

/// A console stream that takes nothing more: whoever read it is gone (a closed pipe). Writes
/// then fail with `closed`, as wasmtime-wasi reports a broken pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsoleClosed;

/// What a read of standard input found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StdinRead {
    /// Bytes (never empty unless zero were asked for).
    Bytes(alloc::vec::Vec<u8>),
    /// Nothing yet; more may come.
    Wait,
    /// The input is over.
    End,
}

/// The machine under the WASI host. [`block_on`](crate::block_on) relies on the pair
/// [`wake_at`](Platform::wake_at)/[`idle`](Platform::idle): a waiting guest's clock pollables
/// call `wake_at` with their deadline, then the executor calls `idle`.
pub trait Platform: Send + Sync + 'static {
    /// Nanoseconds since an arbitrary fixed point (boot); never goes backwards.
    fn monotonic_now(&self) -> u64;
    /// The monotonic clock's resolution in nanoseconds.
    fn monotonic_resolution(&self) -> u64;
    /// The wall clock now.
    fn wall_now(&self) -> WallTime;
    /// The wall clock's resolution.
    fn wall_resolution(&self) -> WallTime;
    /// Fills `buf` from a cryptographically secure generator.
    fn secure_random(&self, buf: &mut [u8]);
    /// A fast, not necessarily secure, random number.
    fn insecure_random(&self) -> u64;
    /// A per-boot seed for hash tables and the like.
    fn insecure_seed(&self) -> (u64, u64);
    /// Takes all of `bytes` for the console stream (never more than
    /// [`console_capacity`](Platform::console_capacity) allowed).
    fn console_write(&self, stream: ConsoleStream, bytes: &[u8]) -> Result<(), ConsoleClosed>;
    /// How many bytes [`console_write`](Platform::console_write) takes now: 0 while earlier
    /// output still waits for its reader (the guest then waits, as on a full pipe).
    fn console_capacity(&self, _stream: ConsoleStream) -> Result<usize, ConsoleClosed> {
        Ok(usize::MAX)
    }
    /// Takes up to `max` bytes of standard input. The default: none, ever (an empty input).
    fn stdin_read(&self, _max: usize) -> StdinRead {
        StdinRead::End
    }
    /// Whether [`stdin_read`](Platform::stdin_read) would return bytes or the end. An
    /// implementation whose input arrives by interrupt makes [`idle`](Platform::idle) return
    /// when it does.
    fn stdin_ready(&self) -> bool {
        true
    }
    /// Asks to be woken no later than `deadline` (monotonic nanoseconds) from the next
    /// [`Platform::idle`]. Several calls keep the earliest deadline.
    fn wake_at(&self, deadline: u64);
    /// Sleeps (halts the CPU) until an interrupt arrives or the earliest deadline given to
    /// [`Platform::wake_at`] since the last `idle` has passed, then forgets that deadline.
    fn idle(&self);
}
