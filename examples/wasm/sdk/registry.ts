// The live root and stream contexts by id, shared by the entry-point modules ("./exports", "./body-exports").

import { Context, RootContext } from "./index";

export const roots = new Map<u32, RootContext>();
export const contexts = new Map<u32, Context>();
