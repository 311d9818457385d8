/** A product of the example shop. */
export interface Product {
  id: string;
  name: string;
  description: string;
  /** Price in cents, so that nothing rounds. */
  priceCents: number;
  stock: number;
}

/**
 * The products the example starts with.
 * @returns a fresh copy each call, so that every server starts from the same stock.
 */
export function initialProducts(): Product[] {
  return [
    {
      id: 'p1',
      name: 'Espresso machine',
      description: 'Dual boiler, PID-controlled, pulls a shot in 25 seconds.',
      priceCents: 89_900,
      stock: 12,
    },
    {
      id: 'p2',
      name: 'Burr grinder',
      description: 'Flat 64 mm burrs, stepless adjustment, near-zero retention.',
      priceCents: 34_900,
      stock: 7,
    },
    {
      id: 'p3',
      name: 'Milk jug',
      description: 'Stainless steel, 600 ml, with a sharp spout for latte art.',
      priceCents: 2_400,
      stock: 40,
    },
    {
      id: 'p4',
      name: 'Tamper',
      description: 'Calibrated 58 mm tamper with a walnut handle.',
      priceCents: 5_900,
      stock: 3,
    },
    {
      id: 'p5',
      name: 'Coffee scale',
      description: 'Reads 0.1 g, with a built-in shot timer.',
      priceCents: 6_900,
      stock: 18,
    },
  ];
}
