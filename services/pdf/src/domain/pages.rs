//! Page assembly: every page operation (merge, split, extract, remove, reorder, rotate) builds
//! a new document from chosen pages by copying only the objects those pages reach. Removed
//! pages leave nothing behind, and a link to a page that is not kept becomes null instead of
//! dragging the whole old page tree along.

use std::collections::{BTreeMap, HashMap, HashSet};

use lopdf::{Dictionary, Document, Object, ObjectId, dictionary};

use super::{Deadline, PdfLimits, Result, check_pages, internal, invalid, page_ids, parse_ranges};

/// Page attributes a page may inherit from its ancestors in the page tree.
const INHERITED: [&[u8]; 4] = [b"MediaBox", b"CropBox", b"Resources", b"Rotate"];

/// Builds one output document from pages of one or more sources.
pub struct Assembler {
    out: Document,
    pages_id: ObjectId,
    kids: Vec<Object>,
    /// Per source: old object id → id in the output.
    maps: Vec<HashMap<ObjectId, ObjectId>>,
    /// Pages already placed once (a second placement gets its own page object).
    placed: HashSet<(usize, ObjectId)>,
    /// Outline entries: a title and the index (in the output) of the page it opens.
    bookmarks: Vec<(String, usize)>,
}

impl Default for Assembler {
    fn default() -> Self {
        Self::new()
    }
}

impl Assembler {
    pub fn new() -> Self {
        let mut out = Document::with_version("1.7");
        let pages_id = out.new_object_id();
        Self {
            out,
            pages_id,
            kids: Vec::new(),
            maps: Vec::new(),
            placed: HashSet::new(),
            bookmarks: Vec::new(),
        }
    }

    /// Pages added so far.
    pub fn page_count(&self) -> usize {
        self.kids.len()
    }

    /// A top-level outline entry (bookmark) titled `title` that opens output page `index`.
    pub fn bookmark(&mut self, title: &str, index: usize) {
        self.bookmarks.push((title.to_owned(), index));
    }

    /// Registers a source document; returns its index for [`Assembler::add_page`].
    pub fn add_source(&mut self) -> usize {
        self.maps.push(HashMap::new());
        self.maps.len() - 1
    }

    /// Appends `page_id` of `source` (registered as `index`), turned by `rotate` degrees.
    pub fn add_page(
        &mut self,
        index: usize,
        source: &Document,
        page_id: ObjectId,
        keep: &HashSet<ObjectId>,
        rotate: i64,
    ) -> Result<()> {
        let mut page = materialize(source, page_id)?;
        page.remove(b"Parent");
        // The output's page tree, thumbnails and structure-tree links do not carry over.
        page.remove(b"StructParents");
        page.remove(b"Thumb");
        page.remove(b"B");
        if rotate != 0 {
            let current = page
                .get(b"Rotate")
                .ok()
                .and_then(|o| o.as_i64().ok())
                .unwrap_or(0);
            page.set("Rotate", (current + rotate).rem_euclid(360));
        }
        let mut copier = Copier {
            source,
            out: &mut self.out,
            map: &mut self.maps[index],
            keep,
        };
        let mut page = copier.copy_dictionary(&page)?;
        page.set("Parent", self.pages_id);
        let first_time = self.placed.insert((index, page_id));
        let id = match self.maps[index].get(&page_id).copied() {
            Some(id) if first_time => id,
            _ => self.out.new_object_id(),
        };
        if first_time {
            self.maps[index].insert(page_id, id);
        }
        self.out.objects.insert(id, Object::Dictionary(page));
        self.kids.push(Object::Reference(id));
        Ok(())
    }

    /// Copies the document information dictionary (title, author, …) of `source`.
    pub fn copy_info(&mut self, index: usize, source: &Document) -> Result<()> {
        let Ok(info) = source.trailer.get(b"Info") else {
            return Ok(());
        };
        let (_, info) = source.dereference(info).map_err(internal)?;
        let Object::Dictionary(info) = info else {
            return Ok(());
        };
        let keep = HashSet::new();
        let mut copier = Copier {
            source,
            out: &mut self.out,
            map: &mut self.maps[index],
            keep: &keep,
        };
        let info = copier.copy_dictionary(info)?;
        let id = self.out.add_object(info);
        self.out.trailer.set("Info", id);
        Ok(())
    }

    /// The assembled document.
    pub fn finish(mut self) -> Document {
        let outlines = self.outlines();
        let count = self.kids.len() as i64;
        self.out.objects.insert(
            self.pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages",
                "Kids" => self.kids,
                "Count" => count,
            }),
        );
        let mut catalog = dictionary! {
            "Type" => "Catalog",
            "Pages" => self.pages_id,
        };
        if let Some(outlines) = outlines {
            catalog.set("Outlines", outlines);
            catalog.set("PageMode", "UseOutlines");
        }
        let catalog = self.out.add_object(catalog);
        self.out.trailer.set("Root", catalog);
        self.out
    }

    /// Writes the bookmarks as a flat outline; `None` when there are none.
    fn outlines(&mut self) -> Option<ObjectId> {
        let entries: Vec<(String, ObjectId)> = std::mem::take(&mut self.bookmarks)
            .into_iter()
            .filter_map(|(title, index)| {
                let page = self.kids.get(index)?.as_reference().ok()?;
                Some((title, page))
            })
            .collect();
        if entries.is_empty() {
            return None;
        }
        let root = self.out.new_object_id();
        let ids: Vec<ObjectId> = entries.iter().map(|_| self.out.new_object_id()).collect();
        for (i, (title, page)) in entries.iter().enumerate() {
            let mut item = dictionary! {
                "Title" => lopdf::text_string(title),
                "Parent" => root,
                "Dest" => vec![Object::Reference(*page), "Fit".into()],
            };
            if i > 0 {
                item.set("Prev", ids[i - 1]);
            }
            if let Some(next) = ids.get(i + 1) {
                item.set("Next", *next);
            }
            self.out.objects.insert(ids[i], Object::Dictionary(item));
        }
        self.out.objects.insert(
            root,
            Object::Dictionary(dictionary! {
                "Type" => "Outlines",
                "First" => ids[0],
                "Last" => ids[ids.len() - 1],
                "Count" => ids.len() as i64,
            }),
        );
        Some(root)
    }
}

/// A page's dictionary with its inherited attributes written in.
fn materialize(document: &Document, page_id: ObjectId) -> Result<Dictionary> {
    let mut page = document.get_dictionary(page_id).map_err(internal)?.clone();
    let mut parent = page.get(b"Parent").and_then(Object::as_reference).ok();
    let mut seen = HashSet::new();
    while let Some(id) = parent {
        if !seen.insert(id) {
            break;
        }
        let Ok(node) = document.get_dictionary(id) else {
            break;
        };
        for key in INHERITED {
            if !page.has(key)
                && let Ok(value) = node.get(key)
            {
                page.set(key.to_vec(), value.clone());
            }
        }
        parent = node.get(b"Parent").and_then(Object::as_reference).ok();
    }
    if !page.has(b"MediaBox") {
        // US Letter is what readers assume for a page that names no size.
        page.set("MediaBox", vec![0.into(), 0.into(), 612.into(), 792.into()]);
    }
    if !page.has(b"Resources") {
        page.set("Resources", Dictionary::new());
    }
    Ok(page)
}

/// Deep-copies objects reachable from a page into the output, giving each a new id once.
struct Copier<'a> {
    source: &'a Document,
    out: &'a mut Document,
    map: &'a mut HashMap<ObjectId, ObjectId>,
    /// Pages of the source that the output keeps; references to other pages become null.
    keep: &'a HashSet<ObjectId>,
}

impl Copier<'_> {
    fn copy_dictionary(&mut self, dictionary: &Dictionary) -> Result<Dictionary> {
        let mut copy = Dictionary::new();
        for (key, value) in dictionary.iter() {
            if key == b"Parent" {
                continue;
            }
            copy.set(key.clone(), self.copy(value)?);
        }
        Ok(copy)
    }

    fn copy(&mut self, object: &Object) -> Result<Object> {
        Ok(match object {
            Object::Reference(id) => self.copy_reference(*id)?,
            Object::Array(items) => Object::Array(
                items
                    .iter()
                    .map(|item| self.copy(item))
                    .collect::<Result<_>>()?,
            ),
            Object::Dictionary(dictionary) => Object::Dictionary(self.copy_dictionary(dictionary)?),
            Object::Stream(stream) => {
                let mut copy = stream.clone();
                copy.dict = self.copy_dictionary(&stream.dict)?;
                Object::Stream(copy)
            }
            other => other.clone(),
        })
    }

    fn copy_reference(&mut self, id: ObjectId) -> Result<Object> {
        if let Some(new) = self.map.get(&id) {
            return Ok(Object::Reference(*new));
        }
        let Ok(object) = self.source.get_object(id) else {
            return Ok(Object::Null);
        };
        if let Object::Dictionary(dictionary) = object
            && let Ok(kind) = dictionary.get(b"Type").and_then(Object::as_name)
        {
            if kind == b"Pages" {
                return Ok(Object::Null);
            }
            if kind == b"Page" && !self.keep.contains(&id) {
                return Ok(Object::Null);
            }
        }
        // Reserve the id first so that cycles (annotation ↔ page) end.
        let new = self.out.new_object_id();
        self.map.insert(id, new);
        let copy = self.copy(object)?;
        self.out.objects.insert(new, copy);
        Ok(Object::Reference(new))
    }
}

/// One document of `pages` (1-based numbers into `source`, in that order, repeats allowed), each
/// turned by its rotation.
pub fn select(source: &Document, pages: &[(usize, i64)], limits: &PdfLimits) -> Result<Document> {
    check_pages(pages.len(), limits)?;
    let ids = page_ids(source);
    let keep: HashSet<ObjectId> = pages.iter().map(|(n, _)| ids[n - 1]).collect();
    let mut assembler = Assembler::new();
    let index = assembler.add_source();
    for &(number, rotate) in pages {
        assembler.add_page(index, source, ids[number - 1], &keep, rotate)?;
    }
    assembler.copy_info(index, source)?;
    Ok(assembler.finish())
}

/// The pages of every document, in order; with `titles` (one per document), an outline with a
/// bookmark at the first page of each.
pub fn merge(
    sources: &[Document],
    titles: Option<&[String]>,
    limits: &PdfLimits,
    deadline: Deadline,
) -> Result<Document> {
    let total: usize = sources.iter().map(|d| d.get_pages().len()).sum();
    check_pages(total, limits)?;
    let mut assembler = Assembler::new();
    for (i, source) in sources.iter().enumerate() {
        deadline.check()?;
        if let Some(title) = titles.and_then(|t| t.get(i)) {
            let first = assembler.page_count();
            assembler.bookmark(title, first);
        }
        let index = assembler.add_source();
        let ids = page_ids(source);
        let keep: HashSet<ObjectId> = ids.iter().copied().collect();
        for id in ids {
            assembler.add_page(index, source, id, &keep, 0)?;
        }
        if i == 0 {
            assembler.copy_info(index, source)?;
        }
    }
    Ok(assembler.finish())
}

/// How `split` cuts a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitMode {
    /// One part per range, e.g. `["1-3", "4-"]`.
    Ranges(Vec<String>),
    /// Parts of `n` pages.
    Every(usize),
}

/// The parts, each with the 1-based pages it holds.
pub fn split(
    source: &Document,
    mode: &SplitMode,
    limits: &PdfLimits,
    deadline: Deadline,
) -> Result<Vec<(Vec<usize>, Document)>> {
    let count = source.get_pages().len();
    let groups: Vec<Vec<usize>> = match mode {
        SplitMode::Every(0) => return Err(invalid("every", "must be at least 1")),
        SplitMode::Every(n) => (1..=count)
            .collect::<Vec<_>>()
            .chunks(*n)
            .map(<[usize]>::to_vec)
            .collect(),
        SplitMode::Ranges(ranges) if ranges.is_empty() => {
            return Err(invalid("ranges", "give at least one range"));
        }
        SplitMode::Ranges(ranges) => ranges
            .iter()
            .map(|r| parse_ranges("ranges", r, count))
            .collect::<Result<_>>()?,
    };
    if groups.len() > limits.max_pages {
        return Err(invalid("ranges", "too many parts"));
    }
    groups
        .into_iter()
        .map(|pages| {
            deadline.check()?;
            let with_rotation: Vec<(usize, i64)> = pages.iter().map(|&p| (p, 0)).collect();
            Ok((pages, select(source, &with_rotation, limits)?))
        })
        .collect()
}

/// Every page except `remove`.
pub fn remove(source: &Document, remove: &[usize], limits: &PdfLimits) -> Result<Document> {
    let count = source.get_pages().len();
    let removed: HashSet<usize> = remove.iter().copied().collect();
    let kept: Vec<(usize, i64)> = (1..=count)
        .filter(|p| !removed.contains(p))
        .map(|p| (p, 0))
        .collect();
    if kept.is_empty() {
        return Err(invalid(
            "pages",
            "removing every page would leave an empty document",
        ));
    }
    select(source, &kept, limits)
}

/// Every page, with `pages` turned by `degrees` (a multiple of 90).
pub fn rotate(
    source: &Document,
    pages: &[usize],
    degrees: i64,
    limits: &PdfLimits,
) -> Result<Document> {
    if degrees % 90 != 0 {
        return Err(invalid("degrees", "must be a multiple of 90"));
    }
    let turned: HashSet<usize> = pages.iter().copied().collect();
    let all: Vec<(usize, i64)> = (1..=source.get_pages().len())
        .map(|p| (p, if turned.contains(&p) { degrees } else { 0 }))
        .collect();
    select(source, &all, limits)
}

/// The pages in a new order; `order` must name every page exactly once.
pub fn reorder(source: &Document, order: &[usize], limits: &PdfLimits) -> Result<Document> {
    let count = source.get_pages().len();
    let mut seen = BTreeMap::new();
    for &p in order {
        *seen.entry(p).or_insert(0) += 1;
    }
    if seen.len() != count || seen.values().any(|&n| n != 1) {
        return Err(invalid(
            "order",
            format!("must name each of the {count} pages exactly once"),
        ));
    }
    let pages: Vec<(usize, i64)> = order.iter().map(|&p| (p, 0)).collect();
    select(source, &pages, limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PdfError;

    #[test]
    fn work_past_the_deadline_stops_with_a_timeout() {
        let mut document = Document::with_version("1.7");
        let pages_id = document.new_object_id();
        let page = document.add_object(dictionary! { "Type" => "Page", "Parent" => pages_id });
        crate::domain::finish_page_tree(&mut document, pages_id, vec![page.into()]);
        let spent = Deadline::after(std::time::Duration::ZERO);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let error = merge(
            &[document.clone(), document],
            None,
            &PdfLimits::default(),
            spent,
        )
        .unwrap_err();
        assert!(matches!(error, PdfError::Timeout(_)), "{error:?}");
    }
}
