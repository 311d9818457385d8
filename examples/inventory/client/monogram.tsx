/** Props of {@link Monogram}. */
export interface MonogramProps {
  name: string;
  large?: boolean;
}

const HUES = [245, 200, 160, 25, 330, 280];

/**
 * A coloured tile with a product's initials, standing in for a product photo.
 * @param props - see {@link MonogramProps}
 * @returns the tile
 */
export function Monogram({ name, large = false }: MonogramProps) {
  const initials = name
    .split(/\s+/)
    .slice(0, 2)
    .map((word) => word[0]?.toUpperCase() ?? '')
    .join('');
  let hash = 0;
  for (const char of name) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  const hue = HUES[hash % HUES.length] ?? HUES[0];
  return (
    <span
      className={large ? 'monogram monogram-large' : 'monogram'}
      style={{ background: `hsl(${hue} 80% 95%)`, color: `hsl(${hue} 55% 38%)` }}
      aria-hidden="true"
    >
      {initials}
    </span>
  );
}
