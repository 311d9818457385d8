import { describeDeliveryScenarios, ONE_REGISTRATION } from './scenario.js';

describeDeliveryScenarios(ONE_REGISTRATION);
