/** Pads a firmware image with zeros to an exact size, as QEMU's `virt` pflash requires. */
export class PadError extends Error {}

export function padImage(image: Buffer, size: number): Buffer {
  if (image.length > size) throw new PadError(`image is ${image.length} bytes, larger than the ${size}-byte flash`);
  if (image.length === size) return image;
  const out = Buffer.alloc(size);
  image.copy(out);
  return out;
}
