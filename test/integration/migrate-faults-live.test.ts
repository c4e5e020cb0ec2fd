// The fault campaign of migrate (fault-campaign.ts) with --live=postcopy: one round of each kind
// (EXTMOUNT_FAULT_CAMPAIGN=full: all of them).
import { faultCampaign } from './fault-campaign.js';

faultCampaign({ live: true });
