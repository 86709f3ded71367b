#include "conflict/views.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "conflict/replica.h"

namespace sb {
namespace {

const char kPhone[] = "00000000-0000-4000-8000-000000000001";
const char kLoc[] = "00000000-0000-4000-8000-000000000002";
const char kOrg[] = "00000000-0000-4000-8000-0000000000aa";

Value Text(const char* s) {
  return Value(std::string(s));
}

class ViewsTest : public ::testing::Test {
 protected:
  const FieldSchema& schema_ = FieldSchema::Hsds();
  Replica partner_{1, schema_};
  Replica maintainer_{2, schema_};
  uint64_t now_ = 1'700'000'000'000;

  // Sets fields on `r` and delivers the delta to the other replica.
  void SetAndShare(Replica& r, const std::string& id, const std::string& kind,
                   const std::map<std::string, Value>& fields) {
    Result<Delta> d = r.Set(id, kind, fields, ++now_);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    Replica& other = &r == &partner_ ? maintainer_ : partner_;
    ASSERT_TRUE(other.Apply(*d, now_).ok());
  }
  const Record& PhoneAt(const Replica& r) { return *r.state().Find(kPhone); }
};

TEST_F(ViewsTest, ModeratedFieldIsProposedAndPendingUntilAMaintainerPublishesIt) {
  SetAndShare(partner_, kPhone, "phone",
              {{"number", Text("+14155550123")}, {"type", Text("voice")}});
  RecordView proposed = ProposedView(PhoneAt(maintainer_), schema_);
  EXPECT_EQ(proposed.fields.at("number").value, Text("+14155550123"));
  EXPECT_TRUE(proposed.fields.at("number").pending);
  EXPECT_FALSE(proposed.fields.at("type").pending);  // not moderated
  RecordView published = PublishedView(PhoneAt(maintainer_), schema_);
  EXPECT_FALSE(published.fields.count("number"));  // never approved: not shown
  EXPECT_EQ(published.fields.at("type").value, Text("voice"));

  SetAndShare(maintainer_, kPhone, "phone", {{"number@published", Text("+14155550123")}});
  EXPECT_FALSE(ProposedView(PhoneAt(partner_), schema_).fields.at("number").pending);
  EXPECT_EQ(PublishedView(PhoneAt(partner_), schema_).fields.at("number").value,
            Text("+14155550123"));

  SetAndShare(partner_, kPhone, "phone", {{"number", Text("+14155550999")}});
  proposed = ProposedView(PhoneAt(maintainer_), schema_);
  published = PublishedView(PhoneAt(maintainer_), schema_);
  EXPECT_EQ(proposed.fields.at("number").value, Text("+14155550999"));
  EXPECT_TRUE(proposed.fields.at("number").pending);
  EXPECT_EQ(published.fields.at("number").value, Text("+14155550123"));  // still the approved one
}

TEST_F(ViewsTest, PublishedShadowsAreNeverListedAsFields) {
  SetAndShare(partner_, kPhone, "phone",
              {{"number", Text("+14155550123")}, {"number@published", Text("+14155550123")}});
  for (const RecordView& v :
       {ProposedView(PhoneAt(partner_), schema_), PublishedView(PhoneAt(partner_), schema_)}) {
    EXPECT_EQ(v.fields.count("number@published"), 0u);
    EXPECT_EQ(v.fields.count("number"), 1u);
  }
}

TEST_F(ViewsTest, ViewsCarryIdKindOwnerDeletedAndSetElements) {
  SetAndShare(partner_, kPhone, "phone", {{kOwnerField, Text(kOrg)}});
  ASSERT_TRUE(partner_.AddElement(kPhone, "languages", "es", ++now_).ok());
  ASSERT_TRUE(partner_.AddElement(kPhone, "languages", "en", ++now_).ok());
  for (const RecordView& v :
       {ProposedView(PhoneAt(partner_), schema_), PublishedView(PhoneAt(partner_), schema_)}) {
    EXPECT_EQ(v.id, kPhone);
    EXPECT_EQ(v.kind, "phone");
    EXPECT_EQ(v.owner, kOrg);
    EXPECT_FALSE(v.deleted);
    EXPECT_EQ(v.fields.at("languages").elements, (std::vector<std::string>{"en", "es"}));
    EXPECT_FALSE(v.fields.at("languages").value.has_value());
  }
}

TEST_F(ViewsTest, ConcurrentWritesAreListedAsConflictsWithSiblingsDisplayedFirst) {
  SetAndShare(partner_, kPhone, "phone", {{"description", Text("base")}});
  Result<Delta> a = partner_.Set(kPhone, "phone", {{"description", Text("from 1")}}, now_ + 5);
  Result<Delta> b = maintainer_.Set(kPhone, "phone", {{"description", Text("from 2")}}, now_ + 5);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(partner_.Apply(*b, now_ + 6).ok());
  ASSERT_TRUE(maintainer_.Apply(*a, now_ + 6).ok());
  for (const Replica* r : {&partner_, &maintainer_}) {
    std::vector<Conflict> conflicts = Conflicts(PhoneAt(*r), schema_);
    ASSERT_EQ(conflicts.size(), 1u);
    EXPECT_EQ(conflicts[0].record_id, kPhone);
    EXPECT_EQ(conflicts[0].field, "description");
    EXPECT_EQ(conflicts[0].kind, ConflictKind::kSiblings);
    ASSERT_EQ(conflicts[0].siblings.size(), 2u);
    // Same stamp: the greater replica id is displayed.
    EXPECT_EQ(conflicts[0].siblings[0].value, Text("from 2"));
    EXPECT_EQ(conflicts[0].siblings[0].dot.replica, 2u);
    EXPECT_EQ(conflicts[0].siblings[1].value, Text("from 1"));
    FieldView fv = ProposedView(PhoneAt(*r), schema_).fields.at("description");
    EXPECT_EQ(fv.value, Text("from 2"));
    EXPECT_EQ(fv.siblings, conflicts[0].siblings);
  }
}

TEST(Views, ManyConcurrentWritersAreReportedAsTooManySiblings) {
  const FieldSchema& schema = FieldSchema::Hsds();
  Replica sink(100, schema);
  for (ReplicaId id = 1; id <= kSiblingReviewLimit + 1; ++id) {
    Replica w(id, schema);
    Result<Delta> d = w.Set(kPhone, "phone", {{"description", Value(std::to_string(id))}}, 1000);
    ASSERT_TRUE(d.ok());
    ASSERT_TRUE(sink.Apply(*d, 1000).ok());
    std::vector<Conflict> c = Conflicts(*sink.state().Find(kPhone), schema);
    if (id == 1) {
      EXPECT_TRUE(c.empty());
    } else {
      ASSERT_EQ(c.size(), 1u);
      EXPECT_EQ(c[0].kind, id > kSiblingReviewLimit ? ConflictKind::kTooManySiblings
                                                    : ConflictKind::kSiblings);
      EXPECT_EQ(c[0].siblings.size(), id);
    }
  }
}

TEST_F(ViewsTest, DeleteAgainstConcurrentEditIsReportedAsEditedWhileDeleted) {
  SetAndShare(partner_, kPhone, "phone",
              {{kOwnerField, Text(kOrg)}, {"type", Text("voice")}, {"description", Text("old")}});
  Result<Delta> del = maintainer_.Delete(kPhone, ++now_);
  Result<Delta> edit = partner_.Set(kPhone, "phone", {{"description", Text("new")}}, now_);
  Result<Delta> add = partner_.AddElement(kPhone, "languages", "es", now_);
  ASSERT_TRUE(del.ok() && edit.ok() && add.ok());
  ASSERT_TRUE(partner_.Apply(*del, now_).ok());
  ASSERT_TRUE(maintainer_.Apply(*edit, now_).ok());
  ASSERT_TRUE(maintainer_.Apply(*add, now_).ok());
  for (const Replica* r : {&partner_, &maintainer_}) {
    const Record& rec = PhoneAt(*r);
    EXPECT_TRUE(ProposedView(rec, schema_).deleted);
    EXPECT_EQ(ProposedView(rec, schema_).owner, kOrg);
    std::vector<Conflict> conflicts = Conflicts(rec, schema_);
    ASSERT_EQ(conflicts.size(), 2u);
    EXPECT_EQ(conflicts[0].field, "description");
    EXPECT_EQ(conflicts[0].kind, ConflictKind::kEditedWhileDeleted);
    ASSERT_EQ(conflicts[0].siblings.size(), 1u);
    EXPECT_EQ(conflicts[0].siblings[0].value, Text("new"));
    EXPECT_EQ(conflicts[1].field, "languages");
    EXPECT_EQ(conflicts[1].kind, ConflictKind::kEditedWhileDeleted);
    EXPECT_TRUE(conflicts[1].siblings.empty());
  }
  EXPECT_EQ(PhoneAt(partner_), PhoneAt(maintainer_));
}

TEST_F(ViewsTest, PlainDeleteIsNotAConflict) {
  SetAndShare(partner_, kPhone, "phone", {{kOwnerField, Text(kOrg)}, {"type", Text("voice")}});
  ASSERT_TRUE(partner_.Delete(kPhone, ++now_).ok());
  EXPECT_TRUE(Conflicts(PhoneAt(partner_), schema_).empty());
  EXPECT_TRUE(PublishedView(PhoneAt(partner_), schema_).deleted);
}

TEST_F(ViewsTest, ConfidentialLocationNarrowsItsAddressToTheOwner) {
  SetAndShare(partner_, kLoc, "location",
              {{"address_1", Text("1 Main St")},
               {"city", Text("Lagos")},
               {"address_confidential", Value(true)}});
  const Record& loc = *partner_.state().Find(kLoc);
  for (const char* f :
       {"address_1", "address_1@published", "address_2", "postal_code", "latitude", "longitude"}) {
    const FieldSpec* spec = schema_.Field("location", f);
    ASSERT_NE(spec, nullptr) << f;
    EXPECT_EQ(EffectiveAudience(loc, *spec), Audience::kOwner) << f;
  }
  EXPECT_EQ(EffectiveAudience(loc, *schema_.Field("location", "city")), Audience::kPublic);
  EXPECT_EQ(EffectiveAudience(loc, *schema_.Field("location", "name")), Audience::kPublic);

  SetAndShare(partner_, kLoc, "location", {{"address_confidential", Value(false)}});
  const Record& open = *partner_.state().Find(kLoc);
  EXPECT_EQ(EffectiveAudience(open, *schema_.Field("location", "address_1")), Audience::kPublic);
}

// A partner that received an address before its location became confidential keeps the
// value (nothing can be taken back), but its view of the record leaves it out.
TEST_F(ViewsTest, OtherPartnersViewsLeaveOutAConfidentialAddress) {
  SetAndShare(partner_, kLoc, "location",
              {{"address_1", Text("1 Main St")}, {"city", Text("Lagos")}});
  SetAndShare(maintainer_, kLoc, "location", {{"address_1@published", Text("1 Main St")}});
  Record seen = PublishedProjection(*partner_.state().Find(kLoc), schema_);
  EXPECT_EQ(seen.Displayed("address_1"), std::optional<Value>(Text("1 Main St")));
  SetAndShare(partner_, kLoc, "location", {{"address_confidential", Value(true)}});
  Record hidden = PublishedProjection(*partner_.state().Find(kLoc), schema_);
  EXPECT_FALSE(hidden.Displayed("address_1").has_value());
  EXPECT_FALSE(hidden.fields().count("address_1@published"));
  EXPECT_EQ(hidden.Displayed("city"), std::optional<Value>(Text("Lagos")));
  EXPECT_TRUE(partner_.state().Find(kLoc)->Displayed("address_1").has_value());  // still held
}

TEST_F(ViewsTest, EffectiveAudienceKeepsTheSchemaAudienceElsewhere) {
  SetAndShare(partner_, kPhone, "phone", {{"description", Text("x")}});
  EXPECT_EQ(EffectiveAudience(PhoneAt(partner_), *schema_.Field("phone", "description")),
            Audience::kPublic);
  Record svc("00000000-0000-4000-8000-000000000003", "service");
  EXPECT_EQ(EffectiveAudience(svc, *schema_.Field("service", "capacity_beds_available")),
            Audience::kPartners);
}

// --- AudienceView ---

const char kOtherOrg[] = "00000000-0000-4000-8000-0000000000bb";

// A location owned by kOrg whose owner wrote its address and then made it confidential.
Record ConfidentialLocation(Record* before_confidential = nullptr) {
  Record loc(kLoc, "location");
  loc.Join(loc.WriteDelta(kOwnerField, Text(kOrg), 2, Hlc::Make(1, 0)));
  loc.Join(loc.WriteDelta("city", Text("Lagos"), 1, Hlc::Make(2, 0)));
  loc.Join(loc.WriteDelta("address_1", Text("1 Main St"), 1, Hlc::Make(3, 0)));
  if (before_confidential) *before_confidential = loc;
  loc.Join(loc.WriteDelta("address_confidential", Value(true), 1, Hlc::Make(4, 0)));
  return loc;
}

TEST(AudienceView, HidesAConfidentialAddressAndForgetsItsWriteForOtherPartners) {
  const FieldSchema& schema = FieldSchema::Hsds();
  Record loc = ConfidentialLocation();
  const Dot address_dot = loc.Register("address_1")->entries().begin()->first;
  Record view = AudienceView(loc, Reader{kOtherOrg, false}, schema);
  EXPECT_FALSE(view.fields().count("address_1"));
  EXPECT_EQ(view.Displayed("city"), std::optional<Value>(Text("Lagos")));
  EXPECT_FALSE(view.context().Contains(address_dot));  // not counted as seen
  EXPECT_TRUE(view.context().Contains(loc.Register("city")->entries().begin()->first));
  // The owner and maintainers receive it whole.
  EXPECT_EQ(AudienceView(loc, Reader{kOrg, false}, schema), loc);
  EXPECT_EQ(AudienceView(loc, Reader{kOtherOrg, true}, schema), loc);
  // When the whole state reaches the partner later, the address arrives: the view did not
  // claim its write, so the join does not take it for superseded.
  Record later = view;
  later.Join(loc);
  EXPECT_EQ(later, loc);
  EXPECT_EQ(later.Displayed("address_1"), std::optional<Value>(Text("1 Main St")));
}

TEST(AudienceView, JudgesADeltaOnTheSendersStateToo) {
  const FieldSchema& schema = FieldSchema::Hsds();
  Record loc = ConfidentialLocation();
  // A new address, in a delta that does not say the address is confidential: the state does.
  Record delta = loc.WriteDelta("address_1", Text("2 Side Rd"), 1, Hlc::Make(5, 0));
  Record view = AudienceView(delta, Reader{kOtherOrg, false}, schema, &loc);
  EXPECT_TRUE(view.fields().empty());
  EXPECT_EQ(AudienceView(delta, Reader{kOtherOrg, false}, schema).fields().size(), 1u);
  EXPECT_EQ(AudienceView(delta, Reader{kOrg, false}, schema, &loc), delta);
}

TEST(AudienceView, LeavesOutFieldsTheSchemaDoesNotKnow) {
  Record phone(kPhone, "phone");
  phone.Join(phone.WriteDelta("type", Text("voice"), 1, Hlc::Make(1, 0)));
  phone.Join(phone.WriteDelta("no_such_field", Text("x"), 1, Hlc::Make(2, 0)));
  Record view = AudienceView(phone, Reader{kOrg, true}, FieldSchema::Hsds());
  EXPECT_TRUE(view.fields().count("type"));
  EXPECT_FALSE(view.fields().count("no_such_field"));
}

// Why the law of views.h needs the same audience on both sides: the partner received the
// address before it became confidential; the view of the joined state hides it.
TEST(AudienceView, FilteringAndJoiningDifferWhenTheJoinMakesAnAddressConfidential) {
  const FieldSchema& schema = FieldSchema::Hsds();
  Record open;
  Record confidential = ConfidentialLocation(&open);
  const Reader partner{kOtherOrg, false};
  Record joined_views = AudienceView(open, partner, schema);
  joined_views.Join(AudienceView(confidential, partner, schema));
  Record view_of_join = AudienceView(confidential, partner, schema);
  EXPECT_TRUE(joined_views.fields().count("address_1"));
  EXPECT_FALSE(view_of_join.fields().count("address_1"));
  // Outside the address fields they agree.
  EXPECT_EQ(HideFields(joined_views, [](const std::string& f) { return f == "address_1"; }),
            view_of_join);
}

TEST(HideFields, DropsTheFieldsAndSubtractsOnlyTheDotsOfTheirValues) {
  Record r(kPhone, "phone");
  r.Join(r.WriteDelta("type", Text("voice"), 1, Hlc::Make(1, 0)));
  const Dot first = r.Register("type")->entries().begin()->first;
  r.Join(r.WriteDelta("type", Text("text"), 1, Hlc::Make(2, 0)));  // supersedes `first`
  r.Join(r.WriteDelta("description", Text("24h"), 1, Hlc::Make(3, 0)));
  Record hidden = HideFields(r, [](const std::string& f) { return f == "type"; });
  EXPECT_FALSE(hidden.fields().count("type"));
  EXPECT_TRUE(hidden.fields().count("description"));
  EXPECT_FALSE(hidden.context().Contains(r.Register("type")->entries().begin()->first));
  EXPECT_TRUE(hidden.context().Contains(first));  // still superseded
  EXPECT_EQ(HideFields(r, [](const std::string&) { return false; }), r);
}

TEST(Views, ConflictKindNamesAreStable) {
  EXPECT_STREQ(ConflictKindName(ConflictKind::kSiblings), "siblings");
  EXPECT_STREQ(ConflictKindName(ConflictKind::kEditedWhileDeleted), "edited_while_deleted");
  EXPECT_STREQ(ConflictKindName(ConflictKind::kTooManySiblings), "too_many_siblings");
}

}  // namespace
}  // namespace sb
