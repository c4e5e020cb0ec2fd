// The fault campaign of migrate (fault-campaign.ts), stop-and-copy.
import { faultCampaign } from './fault-campaign.js';

faultCampaign({ live: false });
