// Reading the SVG the training charts write: each element's attributes, for tests that compare numbers.

export type Attrs = Record<string, string> & { text?: string };

/** Every `<tag ...>` of an SVG as its attributes, with a <text>'s content as `text`. */
export function elements(svg: string, tag: string): Attrs[] {
  const re = tag === 'text' ? /<text\b([^>]*)>([^<]*)<\/text>/g : new RegExp(`<${tag}\\b([^>]*?)/?>`, 'g');
  return [...svg.matchAll(re)].map((m) => {
    const a: Attrs = {};
    for (const [, k, v] of m[1]!.matchAll(/([\w:-]+)="([^"]*)"/g)) a[k!] = v!;
    if (tag === 'text') a.text = m[2]!;
    return a;
  });
}
