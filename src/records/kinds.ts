// The record kinds ("items") and activity segments of the Solve360 dialect, with their typeids and fields.

export type FieldType = 'text' | 'number' | 'date' | 'datetime' | 'boolean' | 'user' | 'company' | 'email' | 'url';

export interface FieldDef {
  name: string;
  label: string;
  type: FieldType;
}

export interface ItemKind {
  /** path segment: contacts, companies, projectblogs */
  segment: string;
  /** singular name, used in constrainttype: contact, company, projectblog */
  kind: string;
  typeid: number;
  fields: FieldDef[];
  /** the derived item name */
  name(fields: Record<string, unknown>): string;
}

const f = (name: string, label: string, type: FieldType = 'text'): FieldDef => ({ name, label, type });

export const ITEM_KINDS: ItemKind[] = [
  {
    segment: 'contacts',
    kind: 'contact',
    typeid: 1,
    fields: [
      f('firstname', 'First Name'),
      f('lastname', 'Last Name'),
      f('jobtitle', 'Job Title'),
      f('businessemail', 'Business Email', 'email'),
      f('personalemail', 'Personal Email', 'email'),
      f('otheremail', 'Other Email', 'email'),
      f('businessaddress', 'Business Address'),
      f('homeaddress', 'Home Address'),
      f('businessphonedirect', 'Business Phone Direct'),
      f('businessphonemain', 'Business Phone Main'),
      f('businessphoneextension', 'Business Phone Extension'),
      f('businessfax', 'Business Fax'),
      f('cellularphone', 'Cellular Phone'),
      f('homephone', 'Home Phone'),
      f('website', 'Website', 'url'),
      f('background', 'Background'),
      f('company', 'Company', 'company'),
      f('assignedto', 'Assigned To', 'user'),
    ],
    name: (v) => [v.firstname, v.lastname].filter((s) => typeof s === 'string' && s.trim() !== '').join(' '),
  },
  {
    segment: 'companies',
    kind: 'company',
    typeid: 40,
    fields: [
      f('name', 'Name'),
      f('mainaddress', 'Main Address'),
      f('billingaddress', 'Billing Address'),
      f('shippingaddress', 'Shipping Address'),
      f('phone', 'Phone'),
      f('fax', 'Fax'),
      f('website', 'Website', 'url'),
      f('background', 'Background'),
      f('assignedto', 'Assigned To', 'user'),
    ],
    name: (v) => (typeof v.name === 'string' ? v.name : ''),
  },
  {
    segment: 'projectblogs',
    kind: 'projectblog',
    typeid: 2,
    fields: [
      f('title', 'Title'),
      f('background', 'Background'),
      f('assignedto', 'Assigned To', 'user'),
      f('logo', 'Logo'),
    ],
    name: (v) => (typeof v.title === 'string' ? v.title : ''),
  },
];

export const itemKindBySegment = new Map(ITEM_KINDS.map((k) => [k.segment, k]));
export const itemKindByName = new Map(ITEM_KINDS.map((k) => [k.kind, k]));
export const itemKindByTypeid = new Map(ITEM_KINDS.map((k) => [k.typeid, k]));

export interface ActivityKind {
  segment: string;
  typeid: number;
  fields: FieldDef[];
  /** created only through multipart upload */
  upload?: boolean;
}

// typeids from Solve360's documentation; the minor kinds' typeids are Hookline's choice.
export const ACTIVITY_KINDS: ActivityKind[] = [
  { segment: 'note', typeid: 3, fields: [f('details', 'Details')] },
  {
    segment: 'event',
    typeid: 4,
    fields: [
      f('title', 'Title'),
      f('timestart', 'Start', 'datetime'),
      f('timeend', 'End', 'datetime'),
      f('details', 'Details'),
      f('attendees', 'Attendees'),
      f('eventtype', 'Event Type'),
      f('priority', 'Priority', 'number'),
      f('remindtime', 'Remind Time', 'number'),
      f('location', 'Location'),
    ],
  },
  {
    segment: 'followup',
    typeid: 6,
    fields: [
      f('title', 'Title'),
      f('duedate', 'Due Date', 'date'),
      f('responsible', 'Responsible', 'user'),
      f('completed', 'Completed', 'boolean'),
    ],
  },
  {
    segment: 'task',
    typeid: 14,
    fields: [
      f('title', 'Title'),
      f('duedate', 'Due Date', 'date'),
      f('assignedto', 'Assigned To', 'user'),
      f('completed', 'Completed', 'boolean'),
      f('priority', 'Priority', 'number'),
      f('remindtime', 'Remind Time', 'number'),
      f('details', 'Details'),
    ],
  },
  {
    segment: 'timerecord',
    typeid: 15,
    fields: [
      f('hours', 'Hours', 'number'),
      f('date', 'Date', 'date'),
      f('billable', 'Billable', 'boolean'),
      f('invoiced', 'Invoiced', 'boolean'),
      f('details', 'Details'),
      f('person', 'Person', 'user'),
    ],
  },
  { segment: 'file', typeid: 23, fields: [f('title', 'Title'), f('details', 'Details')], upload: true },
  { segment: 'photo', typeid: 24, fields: [f('title', 'Title'), f('details', 'Details')], upload: true },
  {
    segment: 'opportunity',
    typeid: 32,
    fields: [
      f('description', 'Description'),
      f('status', 'Status'),
      f('valueunit', 'Value', 'number'),
      f('valuecurrency', 'Currency'),
      f('valueinterval', 'Interval'),
      f('probability', 'Probability', 'number'),
      f('closingdate', 'Closing Date', 'date'),
      f('stage', 'Stage'),
      f('responsible', 'Responsible', 'user'),
    ],
  },
  {
    segment: 'call',
    typeid: 73,
    fields: [
      f('details', 'Details'),
      f('dateoccured', 'Date Occurred', 'datetime'),
      f('duration', 'Duration', 'number'),
    ],
  },
  { segment: 'tasklist', typeid: 16, fields: [f('title', 'Title')] },
  { segment: 'photolist', typeid: 25, fields: [f('title', 'Title')] },
  { segment: 'linkedemails', typeid: 29, fields: [f('title', 'Title'), f('details', 'Details')] },
  { segment: 'comment', typeid: 30, fields: [f('details', 'Details')] },
  { segment: 'website', typeid: 62, fields: [f('title', 'Title'), f('url', 'URL', 'url')] },
  { segment: 'separator', typeid: 59, fields: [f('title', 'Title')] },
];

export const activityKindBySegment = new Map(ACTIVITY_KINDS.map((k) => [k.segment, k]));
export const activityKindByTypeid = new Map(ACTIVITY_KINDS.map((k) => [k.typeid, k]));

export const OPPORTUNITY_STATUSES = ['Discussion', 'Pending', 'Won', 'Lost', 'On-hold'];

/** The activity's display name: its title, else the start of its details or description. */
export function activityName(fields: Record<string, unknown>): string {
  for (const key of ['title', 'description', 'details']) {
    const v = fields[key];
    if (typeof v === 'string' && v.trim() !== '') return v.length > 80 ? `${v.slice(0, 77)}...` : v;
  }
  return '';
}
