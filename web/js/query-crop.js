// The query as the last search saw it. When that search used a box (drawn, or the auto crop),
// an explanation must explain the region that was searched, not the whole picture: the pixels
// inside the server's own box (`crop.box`, in pixels of the decoded image with its EXIF
// orientation applied, as createImageBitmap decodes it too) are cut here as a PNG and sent as
// the explanation's query.

/** The part of the query inside `used.box`, as a PNG file; null when it cannot be cut. */
export async function croppedQuery(q, used) {
  try {
    const blob = q.kind === 'file' ? q.file : await (await fetch(q.url)).blob();
    const bitmap = await createImageBitmap(blob);
    const [iw, ih] = used.image_size;
    if (bitmap.width !== iw || bitmap.height !== ih) return null; // not the picture the server cut
    const [x, y, w, h] = used.box;
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    canvas.getContext('2d').drawImage(bitmap, x, y, w, h, 0, 0, w, h);
    bitmap.close();
    const png = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
    return png ? new File([png], 'query-region.png', { type: 'image/png' }) : null;
  } catch {
    return null;
  }
}

/** A cache key for the box: explanations of one query differ by the box it was searched with. */
export const cropKey = (used) => (used ? used.box.join(',') : 'whole');
