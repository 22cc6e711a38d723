//! Python's `random.Random(seed)` (Mersenne Twister, seeded as CPython 3 seeds it), so Ansible's
//! `random(seed=...)` filter picks here what it picks under Ansible: roles spread cron minutes and splay
//! times per host with `59 | random(seed=inventory_hostname)`.

use sha2::Digest;

const N: usize = 624;
const M: usize = 397;

pub struct PythonRandom {
    state: [u32; N],
    index: usize,
}

impl PythonRandom {
    /// `random.Random(text)`: the text's UTF-8 bytes followed by their SHA-512, as one big-endian integer.
    pub fn from_text(seed: &str) -> PythonRandom {
        let mut bytes = seed.as_bytes().to_vec();
        bytes.extend_from_slice(&sha2::Sha512::digest(seed.as_bytes()));
        PythonRandom::from_big_endian(&bytes)
    }

    /// `random.Random(n)`: the absolute value of the integer.
    pub fn from_int(seed: i64) -> PythonRandom {
        PythonRandom::from_big_endian(&seed.unsigned_abs().to_be_bytes())
    }

    fn from_big_endian(bytes: &[u8]) -> PythonRandom {
        // The integer's 32-bit words, least significant first; zero is one zero word.
        let mut key: Vec<u32> =
            bytes.rchunks(4).map(|chunk| chunk.iter().fold(0u32, |word, b| (word << 8) | *b as u32)).collect();
        while key.len() > 1 && *key.last().unwrap() == 0 {
            key.pop();
        }
        if key.is_empty() {
            key.push(0);
        }
        let mut rng = PythonRandom { state: [0; N], index: N };
        rng.init_by_array(&key);
        rng
    }

    fn init_genrand(&mut self, seed: u32) {
        self.state[0] = seed;
        for i in 1..N {
            let prev = self.state[i - 1];
            self.state[i] = 1_812_433_253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(i as u32);
        }
        self.index = N;
    }

    fn init_by_array(&mut self, key: &[u32]) {
        self.init_genrand(19_650_218);
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(key.len()) {
            let prev = self.state[i - 1];
            self.state[i] = (self.state[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                self.state[0] = self.state[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let prev = self.state[i - 1];
            self.state[i] = (self.state[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                self.state[0] = self.state[N - 1];
                i = 1;
            }
        }
        self.state[0] = 0x8000_0000;
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            for k in 0..N {
                let y = (self.state[k] & 0x8000_0000) | (self.state[(k + 1) % N] & 0x7fff_ffff);
                let mut next = self.state[(k + M) % N] ^ (y >> 1);
                if y & 1 != 0 {
                    next ^= 0x9908_b0df;
                }
                self.state[k] = next;
            }
            self.index = 0;
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `getrandbits(k)`.
    fn bits(&mut self, k: u32) -> u64 {
        match k {
            0 => 0,
            1..=32 => (self.next_u32() >> (32 - k)) as u64,
            _ => {
                let low = self.next_u32() as u64;
                let high = (self.next_u32() >> (64 - k.min(64))) as u64;
                (high << 32) | low
            }
        }
    }

    /// `_randbelow(n)`: rejection sampling on `n.bit_length()` bits.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let k = 64 - n.leading_zeros();
        loop {
            let r = self.bits(k);
            if r < n {
                return r;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PythonRandom;

    #[test]
    fn matches_cpython() {
        // python3 -c 'import random; r = random.Random("web1"); print([r.randrange(60) for _ in range(3)])'
        let mut rng = PythonRandom::from_text("web1");
        let picks: Vec<u64> = (0..3).map(|_| rng.below(60)).collect();
        assert_eq!(picks, EXPECTED_WEB1);
        // python3 -c 'import random; r = random.Random(42); print([r.randrange(100) for _ in range(3)])'
        let mut rng = PythonRandom::from_int(42);
        let picks: Vec<u64> = (0..3).map(|_| rng.below(100)).collect();
        assert_eq!(picks, [81, 14, 3]);
    }

    const EXPECTED_WEB1: [u64; 3] = [52, 20, 16];
}
