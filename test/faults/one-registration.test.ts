import { afterAll, afterEach, describe, it } from 'vitest';
import {
  type Figures,
  ONE_REGISTRATION,
  PROFILES,
  type Run,
  reportFigures,
  runDeliveryScenario,
} from './scenario.js';

let run: Run | undefined;
const figures: Figures[] = [];

afterEach(async () => {
  await run?.close();
  run = undefined;
});

afterAll(() => reportFigures(figures));

describe(`exactly once and in order at urql: ${ONE_REGISTRATION.name}`, () => {
  it.each(PROFILES.map((profile) => [profile.name, profile] as const))(
    'delivers every event once, in order, when the push service %s',
    async (_, profile) => {
      figures.push(
        await runDeliveryScenario(profile, ONE_REGISTRATION, (opened) => {
          run = opened;
        }),
      );
    },
    90_000,
  );
});
