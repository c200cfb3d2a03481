;; FastCDC 2020's cut search as WebAssembly: the hot loop of src/chunker/scan-wasm.ts,
;; cutting exactly where scan.ts (and fastcdc-rs v2020) cut. Assembled by
;; scripts/build-wasm.mjs (npm run build) into scan-wasm-bytes.ts.
;;
;; Memory layout (little-endian, as WebAssembly always is):
;;   [0, 2048)     the seeded gear table, 256 x i64
;;   [2048, 2056)  the hard mask (before the chunk's center), i64
;;   [2056, 2064)  the easy mask (from the center on), i64
;;   [4096, ...)   the bytes to cut (the caller's buffer lives here)
;;
;; The 64-bit gear hash is `h = (h << 1) + GEAR[byte]`; a position is a cut candidate when
;; `h & mask` is 0. With native 64-bit integers this is one shift, one add and one load
;; per byte; the loop reads 8 bytes at a time and is unrolled over them.
(module
  (memory (export "memory") 1)

  ;; The hash after the last byte of the last `scan` without a hit, so one search can go
  ;; on over the next range (the easy mask's, or the next piece copied in).
  (global $hash (mut i64) (i64.const 0))

  ;; First position in [p, stop) where the hash, after that byte, has no bit of `mask`
  ;; set; -1 when there is none. Starts from hash 0 when `reset` is not 0, else from the
  ;; hash the previous call left. `easy` picks the mask: 0 the hard one, else the easy one.
  (func (export "scan") (param $p i32) (param $stop i32) (param $easy i32) (param $reset i32)
    (result i32)
    (local $h i64) (local $mask i64) (local $w i64) (local $last i32)
    (if (local.get $reset)
      (then (local.set $h (i64.const 0)))
      (else (local.set $h (global.get $hash))))
    (local.set $mask
      (i64.load (select (i32.const 2056) (i32.const 2048) (local.get $easy))))
    ;; Eight bytes at a time while eight are left.
    (local.set $last (i32.sub (local.get $stop) (i32.const 8)))
    (block $tail
      (br_if $tail (i32.gt_s (local.get $p) (local.get $last)))
      (loop $words
        (local.set $w (i64.load (local.get $p)))
        ;; byte 0
        (local.set $h (i64.add (i64.shl (local.get $h) (i64.const 1))
          (i64.load (i32.shl (i32.wrap_i64 (i64.and (local.get $w) (i64.const 255))) (i32.const 3)))))
        (if (i64.eqz (i64.and (local.get $h) (local.get $mask)))
          (then (global.set $hash (local.get $h))
                (return (local.get $p))))
        ;; byte 1
        (local.set $h (i64.add (i64.shl (local.get $h) (i64.const 1))
          (i64.load (i32.shl (i32.wrap_i64 (i64.and (i64.shr_u (local.get $w) (i64.const 8)) (i64.const 255))) (i32.const 3)))))
        (if (i64.eqz (i64.and (local.get $h) (local.get $mask)))
          (then (global.set $hash (local.get $h))
                (return (i32.add (local.get $p) (i32.const 1)))))
        ;; byte 2
        (local.set $h (i64.add (i64.shl (local.get $h) (i64.const 1))
          (i64.load (i32.shl (i32.wrap_i64 (i64.and (i64.shr_u (local.get $w) (i64.const 16)) (i64.const 255))) (i32.const 3)))))
        (if (i64.eqz (i64.and (local.get $h) (local.get $mask)))
          (then (global.set $hash (local.get $h))
                (return (i32.add (local.get $p) (i32.const 2)))))
        ;; byte 3
        (local.set $h (i64.add (i64.shl (local.get $h) (i64.const 1))
          (i64.load (i32.shl (i32.wrap_i64 (i64.and (i64.shr_u (local.get $w) (i64.const 24)) (i64.const 255))) (i32.const 3)))))
        (if (i64.eqz (i64.and (local.get $h) (local.get $mask)))
          (then (global.set $hash (local.get $h))
                (return (i32.add (local.get $p) (i32.const 3)))))
        ;; byte 4
        (local.set $h (i64.add (i64.shl (local.get $h) (i64.const 1))
          (i64.load (i32.shl (i32.wrap_i64 (i64.and (i64.shr_u (local.get $w) (i64.const 32)) (i64.const 255))) (i32.const 3)))))
        (if (i64.eqz (i64.and (local.get $h) (local.get $mask)))
          (then (global.set $hash (local.get $h))
                (return (i32.add (local.get $p) (i32.const 4)))))
        ;; byte 5
        (local.set $h (i64.add (i64.shl (local.get $h) (i64.const 1))
          (i64.load (i32.shl (i32.wrap_i64 (i64.and (i64.shr_u (local.get $w) (i64.const 40)) (i64.const 255))) (i32.const 3)))))
        (if (i64.eqz (i64.and (local.get $h) (local.get $mask)))
          (then (global.set $hash (local.get $h))
                (return (i32.add (local.get $p) (i32.const 5)))))
        ;; byte 6
        (local.set $h (i64.add (i64.shl (local.get $h) (i64.const 1))
          (i64.load (i32.shl (i32.wrap_i64 (i64.and (i64.shr_u (local.get $w) (i64.const 48)) (i64.const 255))) (i32.const 3)))))
        (if (i64.eqz (i64.and (local.get $h) (local.get $mask)))
          (then (global.set $hash (local.get $h))
                (return (i32.add (local.get $p) (i32.const 6)))))
        ;; byte 7
        (local.set $h (i64.add (i64.shl (local.get $h) (i64.const 1))
          (i64.load (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $w) (i64.const 56))) (i32.const 3)))))
        (if (i64.eqz (i64.and (local.get $h) (local.get $mask)))
          (then (global.set $hash (local.get $h))
                (return (i32.add (local.get $p) (i32.const 7)))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br_if $words (i32.le_s (local.get $p) (local.get $last)))))
    ;; The last few bytes one at a time.
    (block $done
      (br_if $done (i32.ge_u (local.get $p) (local.get $stop)))
      (loop $bytes
        (local.set $h (i64.add (i64.shl (local.get $h) (i64.const 1))
          (i64.load (i32.shl (i32.load8_u (local.get $p)) (i32.const 3)))))
        (if (i64.eqz (i64.and (local.get $h) (local.get $mask)))
          (then (global.set $hash (local.get $h))
                (return (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br_if $bytes (i32.lt_u (local.get $p) (local.get $stop)))))
    (global.set $hash (local.get $h))
    (i32.const -1))
)
