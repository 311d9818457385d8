import { describeDeliveryScenarios, FIFTY_REGISTRATIONS } from './scenario.js';

describeDeliveryScenarios(FIFTY_REGISTRATIONS);
